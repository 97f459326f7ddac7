// Dashboard sign-in: OAuth 2.0 authorization code + PKCE at the configured provider, then a session.
//
// The sign-in's state and PKCE verifier travel in a short-lived cookie sealed with SECURITY_KEY (the
// browser holds it, cannot read it). The provider's access token is verified exactly as an API
// bearer (verifyBearer); the session is a random token in an HttpOnly cookie whose SHA-256 names a
// dashboard_session row, so signing out (deleting the row) ends it everywhere at once.
import { and, eq, gt, lt, lte, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AnyDatabase } from '../../db/client.ts';
import { dashboardSession } from '../../db/schema.ts';
import type { Config } from '../config.ts';
import { ApiError, unavailable } from '../errors.ts';
import type { AuthenticatedUser } from '../principal.ts';
import { constantTimeEqual, decryptSecret, encryptSecret, randomToken, sha256Hex, toBase64 } from './crypto.ts';
import { INTROSPECTION_TTL_MS, verifyBearer } from './oauth.ts';

export const SIGN_IN_COOKIE = 'stacker_sign_in';
export const SESSION_COOKIE = 'stacker_session';
export const SIGN_IN_TTL_SECONDS = 10 * 60;
export const SESSION_TTL_SECONDS = 8 * 3600;
/**
 * How long the provider's word on a session's user holds: the next page after that asks it again, so a
 * role taken away (or a user disabled) takes effect within this time, 4 minutes.
 */
export const SESSION_RECHECK_SECONDS = 4 * 60;

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

const tokenAnswer = z.object({ access_token: z.string().min(1), refresh_token: z.string().min(1).max(4096).optional() });

/** The provider's tokens a session keeps (sealed) to re-check its user. */
export interface ProviderTokens {
  accessToken: string;
  refreshToken?: string;
}

/**
 * The callback: the state must be the one this browser started with, the code is exchanged with its
 * verifier, and the token is checked as any API bearer. Returns the signed-in user and where to go.
 */
export async function finishSignIn(
  settings: SignInSettings,
  oauth: Parameters<typeof verifyBearer>[1],
  input: { code: string; state: string; cookie: string | undefined; redirectUri: string },
  now = Date.now(),
): Promise<{ user: AuthenticatedUser; returnTo: string; tokens: ProviderTokens }> {
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
  return { user, returnTo: pending.returnTo, tokens: { accessToken: answer.data.access_token, refreshToken: answer.data.refresh_token } };
}

const seal = (key: Uint8Array, value: string | undefined) => (value === undefined ? null : encryptSecret(key, value));

/**
 * A new session for the user; the returned token goes in the session cookie, only its hash is kept.
 * With the provider's tokens (sealed with the key), the session can re-check its user; without them it
 * ends at its first re-check.
 */
export async function createSession(
  db: AnyDatabase,
  user: AuthenticatedUser,
  provider?: { tokens: ProviderTokens; securityKey: Uint8Array },
  now = Date.now(),
): Promise<string> {
  const token = randomToken(32);
  await db.insert(dashboardSession).values({
    tokenHash: await sha256Hex(token),
    userId: user.id,
    role: user.role,
    email: user.email,
    expiresAt: new Date(now + SESSION_TTL_SECONDS * 1000),
    accessToken: provider ? await seal(provider.securityKey, provider.tokens.accessToken) : null,
    refreshToken: provider ? await seal(provider.securityKey, provider.tokens.refreshToken) : null,
  });
  // Sessions past their end are removed as new ones start (an index keeps this cheap).
  await db.delete(dashboardSession).where(lt(dashboardSession.expiresAt, sql`now()`));
  return token;
}

/** What a session needs to re-check its user: the key its tokens are sealed with, and the provider. */
export interface RecheckDeps {
  securityKey: Uint8Array | undefined;
  /** The token endpoint and client (refreshes); undefined when sign-in is not configured. */
  signIn: Pick<SignInSettings, 'tokenUrl' | 'clientId'> | undefined;
  oauth: Parameters<typeof verifyBearer>[1];
}

/**
 * The signed-in user of a session cookie. Once the provider last confirmed the user over
 * SESSION_RECHECK_SECONDS ago, it is asked again (one request per session does it; the others go on
 * meanwhile): its answer's role and email replace the session's; a refusal ends the session (undefined);
 * an unreachable provider is a 503 and the session is asked again on the next request.
 */
export async function sessionUser(db: AnyDatabase, token: string | undefined, recheck?: RecheckDeps): Promise<AuthenticatedUser | undefined> {
  if (!token || token.length > 100) return undefined;
  const tokenHash = await sha256Hex(token);
  const [row] = await db
    .select({
      userId: dashboardSession.userId,
      role: dashboardSession.role,
      email: dashboardSession.email,
      due: sql<boolean>`${dashboardSession.checkedAt} <= now() - make_interval(secs => ${SESSION_RECHECK_SECONDS})`,
    })
    .from(dashboardSession)
    .where(and(eq(dashboardSession.tokenHash, tokenHash), gt(dashboardSession.expiresAt, sql`now()`)))
    .limit(1);
  if (!row) return undefined;
  const user = { id: row.userId, role: row.role, email: row.email };
  if (!row.due || !recheck) return user;

  // This request re-checks: it moves checked_at first, so concurrent requests do not ask (or spend a
  // refresh token) as well.
  const [claimed] = await db
    .update(dashboardSession)
    .set({ checkedAt: sql`now()` })
    .where(and(eq(dashboardSession.tokenHash, tokenHash), lte(dashboardSession.checkedAt, sql`now() - make_interval(secs => ${SESSION_RECHECK_SECONDS})`)))
    .returning({ checkedAt: dashboardSession.checkedAt, accessToken: dashboardSession.accessToken, refreshToken: dashboardSession.refreshToken });
  if (!claimed) return user;
  let confirmed: { user: AuthenticatedUser; tokens: ProviderTokens } | undefined;
  try {
    confirmed = await askProvider(recheck, claimed);
  } catch (error) {
    if (error instanceof ApiError && error.status === 503) {
      // Not confirmed: due again, for the next request.
      await db.update(dashboardSession).set({ checkedAt: sql`now() - make_interval(secs => ${SESSION_RECHECK_SECONDS + 1})` }).where(eq(dashboardSession.tokenHash, tokenHash));
      throw unavailable('The sign-in provider cannot confirm your session right now; try again in a moment.');
    }
    throw error;
  }
  if (!confirmed || confirmed.user.id !== row.userId) {
    await db.delete(dashboardSession).where(eq(dashboardSession.tokenHash, tokenHash));
    return undefined;
  }
  await db
    .update(dashboardSession)
    .set({
      role: confirmed.user.role,
      email: confirmed.user.email,
      accessToken: await seal(recheck.securityKey!, confirmed.tokens.accessToken),
      refreshToken: await seal(recheck.securityKey!, confirmed.tokens.refreshToken),
    })
    .where(eq(dashboardSession.tokenHash, tokenHash));
  return confirmed.user;
}

/**
 * Asks the provider who the session's user is now: a refresh with the refresh token (a new access token,
 * verified as an API bearer), else the access token verified again, by introspection not from the
 * cache. Undefined: the provider refuses, or the session kept nothing to ask with.
 */
async function askProvider(
  deps: RecheckDeps,
  stored: { accessToken: string | null; refreshToken: string | null },
): Promise<{ user: AuthenticatedUser; tokens: ProviderTokens } | undefined> {
  if (!deps.securityKey || (!stored.accessToken && !stored.refreshToken)) return undefined;
  const open = async (sealed: string | null) => {
    if (sealed === null) return undefined;
    try {
      return await decryptSecret(deps.securityKey!, sealed);
    } catch {
      return undefined; // sealed with another SECURITY_KEY
    }
  };
  const refreshToken = await open(stored.refreshToken);
  let accessToken = await open(stored.accessToken);
  let nextRefresh = refreshToken;
  let refreshed = false;
  if (refreshToken && deps.signIn) {
    let response: Response;
    try {
      response = await fetch(deps.signIn.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken, client_id: deps.signIn.clientId }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch {
      throw unavailable('The sign-in provider (OAUTH_TOKEN_URL) is unavailable');
    }
    if (response.status >= 500) {
      await response.body?.cancel();
      throw unavailable(`The sign-in provider answered ${response.status}`);
    }
    const answer = tokenAnswer.safeParse(await response.json().catch(() => undefined));
    if (!response.ok || !answer.success) return undefined;
    accessToken = answer.data.access_token;
    nextRefresh = answer.data.refresh_token ?? refreshToken;
    refreshed = true;
  }
  if (!accessToken) return undefined;
  // A JWT checks against keys, not with the provider: without a refresh it says nothing new. The session
  // ends (the provider's own sign-in session usually makes signing in again one redirect).
  if (!refreshed && deps.oauth.jwksUrl && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(accessToken)) return undefined;
  try {
    // A `now` past the introspection cache's life: the provider is asked, not the cache.
    const user = await verifyBearer(accessToken, deps.oauth, Date.now() + INTROSPECTION_TTL_MS);
    return { user, tokens: { accessToken, refreshToken: nextRefresh } };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return undefined;
    throw error;
  }
}

export async function endSession(db: AnyDatabase, token: string | undefined): Promise<void> {
  if (!token || token.length > 100) return;
  await db.delete(dashboardSession).where(eq(dashboardSession.tokenHash, await sha256Hex(token)));
}
