// Signing in and out: the welcome page, the provider's sign-in (authorization code + PKCE, with its
// state in a short-lived cookie), its callback that starts the session, and sign-out.
import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { z } from 'zod';
import type { AppEnv } from '../http/env.ts';
import { ApiError } from '../errors.ts';
import {
  createSession,
  endSession,
  finishSignIn,
  SESSION_COOKIE,
  SESSION_TTL_SECONDS,
  SIGN_IN_COOKIE,
  SIGN_IN_TTL_SECONDS,
  signInSettings,
  startSignIn,
} from '../services/dashboard-sessions.ts';
import { oauthSettingsOf } from '../services/oauth.ts';
import { countAuthFailure, heldBack } from '../services/auth-failures.ts';
import { durableRateLimits } from '../services/rate-limit.ts';
import { callerIp } from '../http/caller.ts';
import { cookieName, cookieOptions, errorPage, renderPage, signedIn } from './components/page.tsx';

const callbackUrl = (c: { req: { url: string } }) => new URL('/auth/callback', c.req.url).toString();

/** What the sign-in provider sends back to /auth/callback. */
const callbackQuery = z.union([
  z.object({ error: z.string().max(200), error_description: z.string().max(500).optional() }),
  z.object({ code: z.string().min(1).max(2048), state: z.string().min(1).max(200) }),
]);

const PROVIDER_REFUSED = 'The provider did not sign you in. Start again from the sign-in page.';

export const signInPages = new Hono<AppEnv>()
  .get('/', (c) => {
    if (signedIn(c)) return c.redirect('/projects', 303);
    return renderPage(c, {
      title: 'Welcome',
      body: (
        <article>
          <h1>Stacker</h1>
          <p>Build a stack from open-source apps and your own containers, get its docker-compose, deploy it and drive it.</p>
          <a href="/login" role="button">
            Sign in
          </a>
        </article>
      ),
    });
  })
  .get('/login', async (c) => {
    try {
      const started = await startSignIn(signInSettings(c.var.config), callbackUrl(c), '/projects');
      setCookie(c, cookieName(c, SIGN_IN_COOKIE), started.cookie, cookieOptions(c, SIGN_IN_TTL_SECONDS));
      return c.redirect(started.url, 303);
    } catch (error) {
      return errorPage(c, error);
    }
  })
  .get('/auth/callback', async (c) => {
    // Refused sign-ins count as failed authentications of the address (services/auth-failures.ts).
    const ip = callerIp(c);
    const limit = c.var.config.RATE_LIMIT_AUTH_FAILURES_PER_MINUTE;
    const held = heldBack(ip, limit);
    if (held) return errorPage(c, held);
    try {
      const query = callbackQuery.safeParse(c.req.query());
      if (!query.success) throw new ApiError(400, 'Sign-in failed: the provider sent neither a code and state nor an error. Start again from the sign-in page.');
      // Fixed words: error_description (and a made-up error) is anyone's text in a link to this page.
      if ('error' in query.data) throw new ApiError(400, PROVIDER_REFUSED);
      const config = c.var.config;
      const { user, returnTo, tokens } = await finishSignIn(
        signInSettings(config),
        oauthSettingsOf(config),
        { code: query.data.code, state: query.data.state, cookie: getCookie(c, cookieName(c, SIGN_IN_COOKIE)), redirectUri: callbackUrl(c) },
      );
      deleteCookie(c, cookieName(c, SIGN_IN_COOKIE), cookieOptions(c, 0));
      setCookie(c, cookieName(c, SESSION_COOKIE), await createSession(c.var.database.db, user, { tokens, securityKey: config.SECURITY_KEY! }), cookieOptions(c, SESSION_TTL_SECONDS));
      return c.redirect(returnTo, 303);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 400 || error.status === 401)) {
        const throttled = await countAuthFailure(durableRateLimits(c.env.RATE_LIMITER), ip, limit);
        if (throttled) return errorPage(c, throttled);
      }
      return errorPage(c, error);
    }
  })
  .post('/logout', async (c) => {
    await endSession(c.var.database.db, getCookie(c, cookieName(c, SESSION_COOKIE)));
    deleteCookie(c, cookieName(c, SESSION_COOKIE), cookieOptions(c, 0));
    return c.redirect('/', 303);
  });
