// Dashboard sign-in: OAuth 2.0 authorization code + PKCE at the configured provider, then a session.
//
// The sign-in's state and PKCE verifier travel in a short-lived cookie sealed with SECURITY_KEY (the
// browser holds it, cannot read it). The provider's access token is verified exactly as an API
// bearer (verifyBearer); the session is a random token in an HttpOnly cookie whose SHA-256 names a
// dashboard_session row, so signing out (deleting the row) ends it everywhere at once.
import { and, eq, gt, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AnyDatabase } from '../../db/client.ts';
import { dashboardSession } from '../../db/schema.ts';
import type { Config } from '../config.ts';
import { ApiError, unavailable } from '../errors.ts';
import type { AuthenticatedUser } from '../principal.ts';
import { constantTimeEqual, decryptSecret, encryptSecret, randomToken, sha256Hex, toBase64 } from './crypto.ts';
import { verifyBearer } from './oauth.ts';

export const SIGN_IN_COOKIE = 'stacker_sign_in';
export const SESSION_COOKIE = 'stacker_session';
export const SIGN_IN_TTL_SECONDS = 10 * 60;
export const SESSION_TTL_SECONDS = 8 * 3600;

export interface SignInSettings {
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  scope: string;
  securityKey: Uint8Array;
}

/** The dashboard's sign-in settings, or a 503 naming what is missing. */
export function signInSettings(config: Config): SignInSettings {
  const missing = (['OAUTH_AUTHORIZE_URL', 'OAUTH_TOKEN_URL', 'OAUTH_CLIENT_ID', 'SECURITY_KEY'] as const).filter((name) => !config[name]);
  if (missing.length) throw unavailable(`Sign-in is not configured: ${missing.join(', ')} must be set`);
  return {
    authorizeUrl: config.OAUTH_AUTHORIZE_URL!,
    tokenUrl: config.OAUTH_TOKEN_URL!,
    clientId: config.OAUTH_CLIENT_ID!,
    scope: config.OAUTH_SCOPE,
    securityKey: config.SECURITY_KEY!,
  };
}

const pendingSignIn = z.object({ state: z.string(), verifier: z.string(), returnTo: z.string(), expiresAt: z.number() });

/** Where to send the browser, and the sealed cookie that remembers this sign-in until the callback. */
export async function startSignIn(settings: SignInSettings, redirectUri: string, returnTo: string, now = Date.now()) {
  const state = randomToken(24);
  const verifier = randomToken(32);
  const challenge = toBase64(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(verifier))))
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
  const url = new URL(settings.authorizeUrl);
  url.search = new URLSearchParams({
    response_type: 'code',
    client_id: settings.clientId,
    redirect_uri: redirectUri,
    scope: settings.scope,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  }).toString();
  const cookie = await encryptSecret(settings.securityKey, JSON.stringify({ state, verifier, returnTo, expiresAt: now + SIGN_IN_TTL_SECONDS * 1000 }));
  return { url: url.toString(), cookie };
}

const tokenAnswer = z.object({ access_token: z.string().min(1) });

/**
 * The callback: the state must be the one this browser started with, the code is exchanged with its
 * verifier, and the token is checked as any API bearer. Returns the signed-in user and where to go.
 */
export async function finishSignIn(
  settings: SignInSettings,
  oauth: Parameters<typeof verifyBearer>[1],
  input: { code: string; state: string; cookie: string | undefined; redirectUri: string },
  now = Date.now(),
): Promise<{ user: AuthenticatedUser; returnTo: string }> {
  const refused = (message: string) => new ApiError(400, `Sign-in failed: ${message}. Start again from the sign-in page.`);
  if (!input.cookie) throw refused('this browser did not start a sign-in (or it took over 10 minutes)');
  let pending: z.infer<typeof pendingSignIn>;
  try {
    pending = pendingSignIn.parse(JSON.parse(await decryptSecret(settings.securityKey, input.cookie)));
  } catch {
    throw refused('the sign-in cookie is not valid');
  }
  if (pending.expiresAt < now) throw refused('the sign-in took over 10 minutes');
  if (!constantTimeEqual(pending.state, input.state)) throw refused('the answer is not for this sign-in (state)');

  let response: Response;
  try {
    response = await fetch(settings.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: input.code,
        redirect_uri: input.redirectUri,
        client_id: settings.clientId,
        code_verifier: pending.verifier,
      }),
      signal: AbortSignal.timeout(10_000),
    });
  } catch {
    throw unavailable('The sign-in provider (OAUTH_TOKEN_URL) is unavailable');
  }
  const answer = tokenAnswer.safeParse(await response.json().catch(() => undefined));
  if (!response.ok || !answer.success) throw refused('the provider did not accept the code');
  const user = await verifyBearer(answer.data.access_token, oauth);
  return { user, returnTo: pending.returnTo };
}

/** A new session for the user; the returned token goes in the session cookie, only its hash is kept. */
export async function createSession(db: AnyDatabase, user: AuthenticatedUser, now = Date.now()): Promise<string> {
  const token = randomToken(32);
  await db.insert(dashboardSession).values({
    tokenHash: await sha256Hex(token),
    userId: user.id,
    role: user.role,
    email: user.email,
    expiresAt: new Date(now + SESSION_TTL_SECONDS * 1000),
  });
  // Sessions past their end are removed as new ones start (an index keeps this cheap).
  await db.delete(dashboardSession).where(lt(dashboardSession.expiresAt, sql`now()`));
  return token;
}

export async function sessionUser(db: AnyDatabase, token: string | undefined): Promise<AuthenticatedUser | undefined> {
  if (!token || token.length > 100) return undefined;
  const [row] = await db
    .select()
    .from(dashboardSession)
    .where(and(eq(dashboardSession.tokenHash, await sha256Hex(token)), gt(dashboardSession.expiresAt, sql`now()`)))
    .limit(1);
  return row && { id: row.userId, role: row.role, email: row.email };
}

export async function endSession(db: AnyDatabase, token: string | undefined): Promise<void> {
  if (!token || token.length > 100) return;
  await db.delete(dashboardSession).where(eq(dashboardSession.tokenHash, await sha256Hex(token)));
}
