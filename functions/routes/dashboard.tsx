// The Stack Builder dashboard: server-rendered pages on a session cookie (functions/services/dashboard-sessions.ts).
// Served outside the API's OpenAPI registry and its bearer/HMAC/agent authentication; every page
// reaches data through the same services the API routes call, with the signed-in user's scope.
import htmxScript from 'htmx.org/dist/htmx.min.js?raw' with { type: 'text' };
import { version as htmxVersion } from 'htmx.org/package.json';
import picoCss from '@picocss/pico/css/pico.min.css?raw' with { type: 'text' };
import { version as picoVersion } from '@picocss/pico/package.json';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../env.ts';
import { ApiError } from '../errors.ts';
import { describeError, log } from '../logger.ts';
import { ASSETS, Layout } from '../pages/layout.tsx';
import type { AuthenticatedUser } from '../principal.ts';
import {
  createSession,
  endSession,
  finishSignIn,
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  SIGN_IN_COOKIE,
  SIGN_IN_TTL_SECONDS,
  sessionUser,
  signInSettings,
  startSignIn,
} from '../services/dashboard-sessions.ts';
import { listProjects } from '../services/projects.ts';

/** The paths the dashboard serves (app.ts lets them past the API's known-route check). */
export const DASHBOARD_PATHS = ['/', '/login', '/auth/callback', '/logout', '/projects', ASSETS.css, ASSETS.htmx];

const isLoopback = (c: Context) => ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(c.req.url).hostname);
const cookieOptions = (c: Context, maxAge: number) =>
  ({ httpOnly: true, secure: !isLoopback(c), sameSite: 'Lax', path: '/', maxAge }) as const;
const callbackUrl = (c: Context) => new URL('/auth/callback', c.req.url).toString();

const pageHeaders = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; form-action 'self' http: https:; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

/** The signed-in user, as withSession found them (the same principal the API's services take). */
function signedIn(c: Context<AppEnv>): AuthenticatedUser | undefined {
  const principal = c.get('principal') as AppEnv['Variables']['principal'] | undefined;
  return principal?.kind === 'user' ? principal.user : undefined;
}

const withSession: MiddlewareHandler<AppEnv> = async (c, next) => {
  const user = await sessionUser(c.var.database.db, getCookie(c, SESSION_COOKIE));
  if (user) c.set('principal', { kind: 'user', subject: user.role, user });
  await next();
};

/** What the sign-in provider sends back to /auth/callback. */
const callbackQuery = z.union([
  z.object({ error: z.string().max(200), error_description: z.string().max(500).optional() }),
  z.object({ code: z.string().min(1).max(2048), state: z.string().min(1).max(200) }),
]);

const projectSearch = z.object({ q: z.string().trim().max(100).catch('').default('') });

/** Mounted at the root next to the API: its middleware must leave the API's requests alone. */
function onlyDashboardPaths(middleware: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return (c, next) => ((c.req.method === 'GET' || c.req.method === 'POST') && DASHBOARD_PATHS.includes(c.req.path) ? middleware(c, next) : next());
}

function errorPage(c: Context<AppEnv>, error: unknown) {
  const status = error instanceof ApiError ? error.status : 500;
  if (!(error instanceof ApiError)) log('error', 'dashboard page failed', { requestId: c.var.requestId, path: c.req.path, ...describeError(error) });
  const message = error instanceof ApiError ? error.message : 'Something went wrong on our side; it has been logged.';
  return c.html(
    <Layout title="Error" user={signedIn(c)}>
      <article>
        <h1>{status === 400 ? 'That did not work' : 'Error'}</h1>
        <p>{message}</p>
        <a href="/">Back to the start</a>
      </article>
    </Layout>,
    status as 400,
    pageHeaders,
  );
}

export const dashboardRoutes = new Hono<AppEnv>()
  .get(ASSETS.css, (c) => c.body(picoCss, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=86400', ETag: `"pico-${picoVersion}"` }))
  .get(ASSETS.htmx, (c) => c.body(htmxScript, 200, { 'Content-Type': 'text/javascript; charset=utf-8', 'Cache-Control': 'public, max-age=86400', ETag: `"htmx-${htmxVersion}"` }))
  .use('*', onlyDashboardPaths(withSession))
  // State-changing forms come only from this origin.
  .use('*', onlyDashboardPaths(csrf()))
  .get('/', (c) => {
    if (signedIn(c)) return c.redirect('/projects', 303);
    return c.html(
      <Layout title="Welcome">
        <article>
          <h1>Stacker</h1>
          <p>Build a stack from open-source apps and your own containers, get its docker-compose, deploy it and drive it.</p>
          <a href="/login" role="button">
            Sign in
          </a>
        </article>
      </Layout>,
      200,
      pageHeaders,
    );
  })
  .get('/login', async (c) => {
    try {
      const started = await startSignIn(signInSettings(c.var.config), callbackUrl(c), '/projects');
      setCookie(c, SIGN_IN_COOKIE, started.cookie, cookieOptions(c, SIGN_IN_TTL_SECONDS));
      return c.redirect(started.url, 303);
    } catch (error) {
      return errorPage(c, error);
    }
  })
  .get('/auth/callback', async (c) => {
    try {
      const query = callbackQuery.safeParse(c.req.query());
      if (!query.success) throw new ApiError(400, 'Sign-in failed: the provider sent neither a code and state nor an error. Start again from the sign-in page.');
      if ('error' in query.data) throw new ApiError(400, `The provider refused the sign-in: ${query.data.error_description ?? query.data.error}`);
      const config = c.var.config;
      const { user, returnTo } = await finishSignIn(
        signInSettings(config),
        { authUrl: config.AUTH_URL, jwksUrl: config.OAUTH_JWKS_URL, issuer: config.OAUTH_ISSUER, audience: config.OAUTH_AUDIENCE },
        { code: query.data.code, state: query.data.state, cookie: getCookie(c, SIGN_IN_COOKIE), redirectUri: callbackUrl(c) },
      );
      deleteCookie(c, SIGN_IN_COOKIE, { path: '/' });
      setCookie(c, SESSION_COOKIE, await createSession(c.var.database.db, user), cookieOptions(c, SESSION_TTL_SECONDS));
      return c.redirect(returnTo, 303);
    } catch (error) {
      return errorPage(c, error);
    }
  })
  .post('/logout', async (c) => {
    await endSession(c.var.database.db, getCookie(c, SESSION_COOKIE));
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.redirect('/', 303);
  })
  .get('/projects', async (c) => {
    const user = signedIn(c);
    if (!user) return c.redirect('/login', 303);
    const search = projectSearch.parse(c.req.query()).q;
    const projects = (await listProjects(c.var.database.db, user.id)).filter((p) => p.name.toLowerCase().includes(search.toLowerCase()));
    return c.html(
      <Layout title="Projects" user={user}>
        <h1>Projects</h1>
        <form method="get" action="/projects" role="search">
          <input type="search" name="q" value={search} placeholder="Search projects" aria-label="Search projects" />
          <button type="submit">Search</button>
        </form>
        {projects.length === 0 ? (
          <p>{search ? `No project matches “${search}”.` : 'No projects yet.'}</p>
        ) : (
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Updated</th>
              </tr>
            </thead>
            <tbody>
              {projects.map((p) => (
                <tr>
                  <td>{p.name}</td>
                  <td>{p.updated_at.slice(0, 16).replace('T', ' ')}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Layout>,
      200,
      pageHeaders,
    );
  });
