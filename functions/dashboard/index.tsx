// The Stack Builder dashboard's router: server-rendered pages on a session cookie
// (functions/services/dashboard-sessions.ts), served outside the API's OpenAPI registry and its
// bearer/HMAC/agent authentication. This file holds what every page goes through (the session, the
// rate limits, same-origin forms), the static assets, and the mounting of every section's pages: it is
// the one file of dashboard/ that imports pages. Every page reaches data through the same services the
// API routes call, with the signed-in user's scope. One module or folder per section: sign-in,
// projects, builder/, deployments/, live-events, agent-console/, cloud keys, servers, API clients,
// ratings, admin/.
import htmxScript from 'htmx.org/dist/htmx.min.js?raw' with { type: 'text' };
import { version as htmxVersion } from 'htmx.org/package.json';
import picoCss from '@picocss/pico/css/pico.min.css?raw' with { type: 'text' };
import { version as picoVersion } from '@picocss/pico/package.json';
import type { MiddlewareHandler } from 'hono';
import { getCookie } from 'hono/cookie';
import { csrf } from 'hono/csrf';
import { HTTPException } from 'hono/http-exception';
import { isDatabaseUnavailable } from '../../db/client.ts';
import { Hono } from 'hono';
import type { AppEnv } from '../http/env.ts';
import { ApiError, forbidden, unavailable } from '../errors.ts';
import { bucketOf } from '../middleware/rate-limit.ts';
import { callerIp } from '../http/caller.ts';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets/styles.ts';
import { AGENT_JS } from './assets/agent-console.ts';
import { DEPLOYMENT_JS } from './assets/deployment.ts';
import { LIVE_JS } from './assets/live.ts';
import { ASSETS } from './components/layout.tsx';
import { SESSION_COOKIE, sessionUser, type RecheckDeps } from '../services/dashboard-sessions.ts';
import type { Config } from '../config.ts';
import { oauthSettingsOf } from '../services/oauth.ts';
import { durableRateLimits } from '../services/rate-limit.ts';
import { adminPages } from './admin/index.tsx';
import { agentConsolePages } from './agent-console/index.tsx';
import { builderPages } from './builder/index.tsx';
import { apiClientPages } from './api-clients.tsx';
import { cloudKeyPages } from './cloud-keys.tsx';
import { deploymentPages } from './deployments/index.tsx';
import { liveEventPages } from './live-events.tsx';
import { projectPages } from './projects.tsx';
import { ratingPages } from './ratings.tsx';
import { serverPages } from './servers.tsx';
import { signInPages } from './sign-in.tsx';
import { cookieName, errorPage } from './components/page.tsx';

const SIGN_IN_PATHS = new Set(['/', '/login', '/auth/callback', '/logout']);
/** Sections: the path itself and everything under it. None is a prefix of an API path. */
const SECTION_PATHS = ['/projects', '/keys', '/servers', '/clients', '/ratings', '/admin'];

/** Whether a path is the dashboard's (app.ts lets them past the API's known-route check). */
export function isDashboardPath(path: string): boolean {
  if (SIGN_IN_PATHS.has(path)) return true;
  // '/admin/...' is shared with the API's admin routes; only the dashboard's own sections are pages.
  if (path.startsWith('/admin/')) return ['/admin/projects', '/admin/catalog', '/admin/clients'].some((p) => path === p || path.startsWith(`${p}/`));
  return SECTION_PATHS.some((p) => path === p || path.startsWith(`${p}/`));
}

/** What a session needs to re-check its user with the provider (dashboard-sessions.ts). */
const recheckDeps = (config: Config): RecheckDeps => ({
  securityKey: config.SECURITY_KEY,
  signIn: config.OAUTH_TOKEN_URL && config.OAUTH_CLIENT_ID ? { tokenUrl: config.OAUTH_TOKEN_URL, clientId: config.OAUTH_CLIENT_ID } : undefined,
  oauth: oauthSettingsOf(config),
});

const withSession: MiddlewareHandler<AppEnv> = async (c, next) => {
  let user: Awaited<ReturnType<typeof sessionUser>>;
  try {
    user = await sessionUser(c.var.database.db, getCookie(c, cookieName(c, SESSION_COOKIE)), recheckDeps(c.var.config));
  } catch (error) {
    if (isDatabaseUnavailable(error)) return errorPage(c, unavailable('The database is not answering; try again in a moment.'));
    if (error instanceof ApiError && error.status === 503) return errorPage(c, error);
    throw error;
  }
  c.set('principal', user ? { kind: 'user', subject: user.role, user } : { kind: 'anonymous', subject: 'anonym' });
  await next();
};

/** The API's per-user (or per-address) limits, answered with a page. */
const pageRateLimit: MiddlewareHandler<AppEnv> = async (c, next) => {
  const bucket = bucketOf(c.var.principal, c.var.config, callerIp(c));
  if (bucket.limit > 0) {
    const decision = await durableRateLimits(c.env.RATE_LIMITER).consume(bucket.key, bucket.limit);
    if (!decision.allowed) {
      return errorPage(
        c,
        new ApiError(429, `Too many requests: this ${bucket.who} may send ${bucket.limit} per minute; retry in ${decision.retryAfterSeconds} s`, {
          headers: { 'Retry-After': String(decision.retryAfterSeconds) },
        }),
      );
    }
  }
  await next();
};

/** Mounted at the root next to the API: its middleware must leave the API's requests alone. */
function onlyDashboardPaths(middleware: MiddlewareHandler<AppEnv>): MiddlewareHandler<AppEnv> {
  return (c, next) => ((c.req.method === 'GET' || c.req.method === 'POST') && isDashboardPath(c.req.path) ? middleware(c, next) : next());
}

/**
 * A POST that names another origin is refused whatever its content type, as a page. hono's csrf (after
 * this) checks only the content types a plain HTML form can send, so a JSON body from another site
 * went through to the handlers (which ignore the body of a delete and act).
 */
const postsFromThisOrigin: MiddlewareHandler<AppEnv> = async (c, next) => {
  const origin = c.req.header('origin');
  if (c.req.method === 'POST' && origin !== undefined && origin !== new URL(c.req.url).origin) {
    return errorPage(c, forbidden('This form was sent from another site: open the page here and send it again.'));
  }
  await next();
};

/** hono's csrf (Origin and Sec-Fetch-Site of form posts), its refusal answered as a page. */
const sameOriginCheck = csrf();
const formsFromThisOrigin: MiddlewareHandler<AppEnv> = async (c, next) => {
  try {
    return await sameOriginCheck(c, next);
  } catch (error) {
    // Errors of the handlers do not reach here (hono answers them where they are thrown); only csrf's.
    if (error instanceof HTTPException && error.status === 403) return errorPage(c, forbidden('This form was not sent from this site’s page: open the page and send it again.'));
    throw error;
  }
};

const asset = (body: string, type: string, etag: string) => () =>
  new Response(body, { headers: { 'Content-Type': `${type}; charset=utf-8`, 'Cache-Control': 'public, max-age=86400', ETag: `"${etag}"` } });

export const dashboardRoutes = new Hono<AppEnv>()
  .get(ASSETS.css, asset(picoCss, 'text/css', `pico-${picoVersion}`))
  .get(ASSETS.htmx, asset(htmxScript, 'text/javascript', `htmx-${htmxVersion}`))
  .get(ASSETS.dashboardCss, asset(DASHBOARD_CSS, 'text/css', `dashboard-${DASHBOARD_CSS.length}`))
  .get(ASSETS.dashboardJs, asset(DASHBOARD_JS, 'text/javascript', `dashboard-${DASHBOARD_JS.length}`))
  .get(ASSETS.liveJs, asset(LIVE_JS, 'text/javascript', `live-${LIVE_JS.length}`))
  .get(ASSETS.deploymentJs, asset(DEPLOYMENT_JS, 'text/javascript', `deployment-${DEPLOYMENT_JS.length}`))
  .get(ASSETS.agentJs, asset(AGENT_JS, 'text/javascript', `agent-${AGENT_JS.length}`))
  .use('*', onlyDashboardPaths(withSession))
  .use('*', onlyDashboardPaths(pageRateLimit))
  // State-changing forms come only from this origin.
  .use('*', onlyDashboardPaths(postsFromThisOrigin))
  .use('*', onlyDashboardPaths(formsFromThisOrigin))
  .route('/', signInPages)
  .route('/', projectPages)
  .route('/', builderPages)
  .route('/', deploymentPages)
  .route('/', liveEventPages)
  .route('/', agentConsolePages)
  .route('/', cloudKeyPages)
  .route('/', serverPages)
  .route('/', apiClientPages)
  .route('/', ratingPages)
  .route('/', adminPages);
