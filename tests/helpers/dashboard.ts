// Driving the dashboard's pages inside workerd: a signed-in session, forms posted from the page's
// origin, pages read whole, and the check that a field carries the server's message.
import { expect } from 'vitest';
import { createSession } from '../../functions/services/dashboard-sessions.ts';
import { api, BASE_URL } from './api.ts';
import { withDatabase } from './db.ts';

/** A session as sign-in leaves it, as the cookie header of later requests. */
export async function signedIn(userId: string, role = 'group_user'): Promise<Record<string, string>> {
  const token = await withDatabase((db) => createSession(db, { id: userId, role, email: `${userId}@example.com` }));
  return { cookie: `__Host-stacker_session=${token}` };
}

/** A form as the browser posts it from the page (Origin of the page, urlencoded), redirects not followed. */
export function postForm(path: string, headers: HeadersInit, form: Record<string, string> | Array<[string, string]>, origin = BASE_URL): Promise<Response> {
  return api(path, {
    method: 'POST',
    headers: { ...Object.fromEntries(new Headers(headers)), origin, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form).toString(),
    redirect: 'manual',
  });
}

export async function page(path: string, headers: HeadersInit): Promise<{ status: number; html: string }> {
  const response = await api(path, { headers, redirect: 'manual' });
  return { status: response.status, html: await response.text() };
}

/** The field (input or select) is marked invalid and the message sits right after it, tied to it. */
export function expectFieldError(html: string, name: string, message: string) {
  const id = `field-${name}`;
  const control = new RegExp(`<(input|select) id="${id}"[^>]*>`).exec(html);
  expect(control, `no control ${id}`).not.toBeNull();
  expect(control![0]).toContain('aria-invalid="true"');
  expect(control![0]).toContain(`aria-describedby="${id}-help"`);
  const after = html.slice(control!.index);
  const help = new RegExp(`^<${control![1]}[^>]*>(?:[\\s\\S]*?</select>)?<small id="${id}-help">([^<]*)</small>`).exec(after);
  expect(help?.[1], `message of ${name}`).toBe(message);
}
