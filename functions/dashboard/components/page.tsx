// What every dashboard page shares: who is signed in, the page frame and headers, error pages,
// one-time notices after a redirect, and reading forms.
import type { Context, Handler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import type { Child } from 'hono/jsx';
import { z } from 'zod';
import type { AppEnv } from '../../http/env.ts';
import { ApiError, badRequest, forbidden, notFound } from '../../errors.ts';
import { describeError, log } from '../../logger.ts';
import { Layout } from './layout.tsx';
import { ADMIN_ROLE, type AuthenticatedUser } from '../../principal.ts';

export type PageContext = Context<AppEnv>;

export const pageHeaders = {
  'Content-Security-Policy':
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self' http: https:; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

const isLoopback = (c: Context) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(c.req.url).hostname);

export const cookieOptions = (c: Context, maxAge: number) => ({ httpOnly: true, secure: !isLoopback(c), sameSite: 'Lax', path: '/', maxAge }) as const;

/**
 * The name of the session and sign-in cookies on this origin: `__Host-` prefixed wherever they are
 * Secure (browsers then take them only from this host over HTTPS, Path=/, no Domain: a sibling
 * subdomain or a plain-http page cannot plant one). On loopback http (npm start) no cookie can be Secure.
 */
export const cookieName = (c: Context, name: string) => (isLoopback(c) ? name : `__Host-${name}`);

/** The signed-in user, as the session middleware found them (the same principal the API's services take). */
export function signedIn(c: PageContext): AuthenticatedUser | undefined {
  const principal = c.get('principal') as AppEnv['Variables']['principal'] | undefined;
  return principal?.kind === 'user' ? principal.user : undefined;
}

export const isAdminUser = (user: AuthenticatedUser) => user.role === ADMIN_ROLE;

const NOTICE_COOKIE = 'stacker_notice';

/** After a successful form: back to a page (303), which says once what was done. */
export function redirectWithNotice(c: PageContext, location: string, notice: string): Response {
  setCookie(c, NOTICE_COOKIE, notice.slice(0, 300), cookieOptions(c, 60));
  return c.redirect(location, 303);
}

function takeNotice(c: PageContext): string | undefined {
  const notice = getCookie(c, NOTICE_COOKIE);
  if (notice !== undefined) deleteCookie(c, NOTICE_COOKIE, { path: '/' });
  return notice;
}

export function renderPage(c: PageContext, page: { title: string; status?: number; body: Child }): Response | Promise<Response> {
  return c.html(
    <Layout title={page.title} user={signedIn(c)} notice={takeNotice(c)}>
      {page.body}
    </Layout>,
    (page.status ?? 200) as 200,
    pageHeaders,
  );
}

/** An error as a page: the ApiError's own message, or (a bug) a generic one while the details go to the log. */
export function errorPage(c: PageContext, error: unknown): Response | Promise<Response> {
  const status = error instanceof ApiError ? error.status : 500;
  if (!(error instanceof ApiError)) log('error', 'dashboard page failed', { requestId: c.var.requestId, path: c.req.path, ...describeError(error) });
  const message = error instanceof ApiError ? error.message : 'Something went wrong on our side; it has been logged.';
  const headers = error instanceof ApiError ? error.headers : undefined;
  const title = status === 404 ? 'Not found' : status === 403 ? 'Not allowed' : status < 500 ? 'That did not work' : 'Error';
  const response = c.html(
    <Layout title={title} user={signedIn(c)}>
      <article>
        <h1>{title}</h1>
        <p>{message}</p>
        <a href="/">Back to the start</a>
      </article>
    </Layout>,
    status as 400,
    { ...pageHeaders, ...headers },
  );
  return response;
}

export type UserPageHandler = (c: PageContext, user: AuthenticatedUser) => Response | Promise<Response>;

/** A page for signed-in users: others are sent to sign in; errors become error pages, never a stack trace. */
export function userPage(handler: UserPageHandler): Handler<AppEnv> {
  return async (c) => {
    const user = signedIn(c);
    if (!user) return c.redirect('/login', 303);
    try {
      return await handler(c, user);
    } catch (error) {
      return errorPage(c, error);
    }
  };
}

/**
 * A fragment a page fetches again with htmx (a panel that follows the live feed). When the session has
 * ended (signed out in another tab, or expired) the part says so, with a link to sign in, instead of
 * htmx following the sign-in redirect to the provider; a request that is not htmx's is sent to sign in
 * as every page is. `following` names what the page follows ("this agent").
 */
export function fragment(following: string, handler: UserPageHandler): Handler<AppEnv> {
  const page = userPage(handler);
  return (c, next) => {
    if (c.req.header('hx-request') !== 'true' || signedIn(c)) return page(c, next);
    return c.html(
      <p class="form-error" role="status">
        Your session has ended: <a href="/login">sign in again</a> to follow {following}.
      </p>,
      200,
      pageHeaders,
    );
  };
}

/** A page for admins only; a signed-in user without the role gets 403. */
export function adminPage(handler: UserPageHandler): Handler<AppEnv> {
  return userPage((c, user) => {
    if (!isAdminUser(user)) throw forbidden('This page is for admins');
    return handler(c, user);
  });
}

const serialId = z.coerce.number().int().min(1).max(2_147_483_647);

/** A row id from the path; anything that is not one names no row. */
export function idParam(c: PageContext, name = 'id'): number {
  const parsed = serialId.safeParse(c.req.param(name));
  if (!parsed.success) throw notFound('There is no such page');
  return parsed.data;
}

/** The longest value any dashboard form field may carry (a pasted .env file fits; docs/security.md). */
export const FORM_FIELD_MAX = 65_536;

/** A posted form: each field's values as strings (files are not taken). */
export class FormFields {
  private readonly body: Record<string, string | File | (string | File)[]>;

  constructor(body: Record<string, string | File | (string | File)[]>) {
    this.body = body;
  }

  /** A body that cannot be read as a form (a broken multipart body, an unknown charset) is the sender's 400, not a 500. */
  static async of(c: PageContext): Promise<FormFields> {
    let body: Record<string, string | File | (string | File)[]>;
    try {
      body = await c.req.parseBody({ all: true });
    } catch {
      throw badRequest('This form could not be read: open the page again and send the form from there.');
    }
    // Every field has its own cap where it is checked (the services' schemas); none is read past this one.
    for (const [name, value] of Object.entries(body)) {
      for (const item of Array.isArray(value) ? value : [value]) {
        if (typeof item === 'string' && item.length > FORM_FIELD_MAX) {
          throw invalidForm(`The field ${name.slice(0, 100)} is too long.`, [{ path: name.slice(0, 100), message: `must be at most ${FORM_FIELD_MAX} characters` }]);
        }
      }
    }
    return new FormFields(body);
  }

  /** The field's value, trimmed ('' when absent). */
  one(name: string): string {
    const value = this.body[name];
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === 'string' ? first.trim() : '';
  }

  /** The field's value as typed (no trim), for text areas. */
  raw(name: string): string {
    const value = this.body[name];
    const first = Array.isArray(value) ? value[0] : value;
    return typeof first === 'string' ? first : '';
  }

  /** Every value of a repeated field, in order (rows of a table). */
  all(name: string): string[] {
    const value = this.body[name];
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    return values.map((v) => (typeof v === 'string' ? v.trim() : ''));
  }

  /** Rows of repeated fields (`{ host_port: 'port_host', ... }`), in order; a row left empty is no row. */
  rows<K extends string>(columns: Record<K, string>): Array<Record<K, string>> {
    const entries = Object.entries(columns) as Array<[K, string]>;
    const values = entries.map(([, field]) => this.all(field));
    const length = Math.max(0, ...values.map((column) => column.length));
    return Array.from({ length }, (_, i) => Object.fromEntries(entries.map(([key], c) => [key, values[c]![i] ?? ''])) as Record<K, string>).filter((row) =>
      Object.values<string>(row).some((value) => value !== ''),
    );
  }

  has(name: string): boolean {
    return this.body[name] !== undefined;
  }
}

/** Fails a page with the envelope's 400 and field errors, as a service would. */
export const invalidForm = (message: string, errors: Array<{ path: string; message: string }>) => new ApiError(400, message, { errors });

/** A text parameter of the path (a route always has the ones it names). */
export function pathParam(c: PageContext, name: string): string {
  const value = c.req.param(name);
  if (value === undefined) throw notFound('There is no such page');
  return value;
}
