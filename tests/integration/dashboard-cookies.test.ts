// Issue 29 point 8: the session and sign-in cookies carry the `__Host-` prefix wherever they are Secure
// (so a sibling subdomain or a plain-http page cannot plant one), and the sign-in callback never shows
// the provider's error_description (text anyone can put in a link to /auth/callback).
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../functions/app.ts';
import { createSession } from '../../functions/services/dashboard-sessions.ts';
import { apiWith, BASE_URL } from '../helpers/api.ts';
import { uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

const signIn = { OAUTH_AUTHORIZE_URL: 'https://auth.example/authorize', OAUTH_TOKEN_URL: 'https://auth.example/token', OAUTH_CLIENT_ID: 'dash' };

/** A request to the app at another origin than the suite's (e.g. loopback, where cookies cannot be Secure). */
async function at(origin: string, path: string, init?: RequestInit): Promise<Response> {
  const ctx = createExecutionContext();
  const response = await createApp().fetch(new Request(`${origin}${path}`, init), { ...env, ...signIn }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

const sessionOf = (id: string) => withDatabase((db) => createSession(db, { id, role: 'group_user', email: `${id}@example.com` }));

describe('dashboard cookies', () => {
  it('the sign-in cookie is __Host-stacker_sign_in, Secure, Path=/ and without Domain on an https-able origin', async () => {
    const login = await apiWith(signIn, '/login', { redirect: 'manual' });
    expect(login.status).toBe(303);
    const cookie = login.headers.getSetCookie().find((line) => line.includes('stacker_sign_in='));
    expect(cookie).toMatch(/^__Host-stacker_sign_in=/);
    expect(cookie).toMatch(/; Secure/);
    expect(cookie).toMatch(/; Path=\//);
    expect(cookie).not.toMatch(/Domain=/i);
  });

  it('a session is read only from __Host-stacker_session there: a planted plain stacker_session is no session', async () => {
    const token = await sessionOf(uniqueId('cookie'));
    const planted = await at(BASE_URL, '/projects', { headers: { cookie: `stacker_session=${token}` }, redirect: 'manual' });
    expect(planted.status).toBe(303);
    expect(planted.headers.get('location')).toBe('/login');
    const prefixed = await at(BASE_URL, '/projects', { headers: { cookie: `__Host-stacker_session=${token}` }, redirect: 'manual' });
    expect(prefixed.status).toBe(200);
    const out = await at(BASE_URL, '/logout', {
      method: 'POST',
      headers: { cookie: `__Host-stacker_session=${token}`, origin: BASE_URL, 'content-type': 'application/x-www-form-urlencoded' },
      body: '',
      redirect: 'manual',
    });
    expect(out.headers.getSetCookie().some((line) => /^__Host-stacker_session=;/.test(line))).toBe(true);
  });

  it('on loopback http (npm start), where no cookie can be Secure, the names stay unprefixed', async () => {
    const login = await at('http://127.0.0.1:8000', '/login', { redirect: 'manual' });
    const cookie = login.headers.getSetCookie().find((line) => line.includes('stacker_sign_in='));
    expect(cookie).toMatch(/^stacker_sign_in=/);
    expect(cookie).not.toMatch(/; Secure/);
    const token = await sessionOf(uniqueId('loop'));
    expect((await at('http://127.0.0.1:8000', '/projects', { headers: { cookie: `stacker_session=${token}` }, redirect: 'manual' })).status).toBe(200);
  });

  it('/auth/callback shows a fixed message for a provider error, never its error_description', async () => {
    const lure = 'Your account is locked. Call +1-555-0100 or visit evil.example to unlock it';
    const response = await apiWith(signIn, `/auth/callback?error=access_denied&error_description=${encodeURIComponent(lure)}`);
    expect(response.status).toBe(400);
    const html = await response.text();
    expect(html).not.toContain('evil.example');
    expect(html).not.toContain('555-0100');
    expect(html).toContain('The provider did not sign you in. Start again from the sign-in page.');
    // Nor the error code when it is not one of OAuth's own.
    const odd = await apiWith(signIn, `/auth/callback?error=${encodeURIComponent('visit evil.example')}`);
    expect(await odd.text()).not.toContain('evil.example');
  });
});
