// OAuth bearer verification: JWTs against a JWKS (jose), other bearers by introspection at AUTH_URL.
import { createRemoteJWKSet, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import { z } from 'zod';
import { ApiError, unauthorized, unavailable } from '../errors.ts';
import type { Config } from '../config.ts';
import type { AuthenticatedUser } from '../principal.ts';
import { sha256Hex } from './crypto.ts';

/** The TryDirect "me" document, read leniently: only `_id`, `role` and `email` are required. */
const meDocument = z.object({
  user: z
    .object({
      _id: z.union([z.string().min(1), z.number()]).transform(String),
      role: z.string(),
      email: z.string(),
      first_name: z.string().nullish(),
      last_name: z.string().nullish(),
    })
    .loose(),
});

const jwtClaims = z
  .object({
    sub: z.string().min(1),
    role: z.string(),
    email: z.string().default(''),
    first_name: z.string().nullish(),
    last_name: z.string().nullish(),
  })
  .loose();

export const INTROSPECTION_TTL_MS = 60_000;
/** A bearer the auth server refused is refused again without asking it, this long. */
export const REFUSED_INTROSPECTION_TTL_MS = 10_000;
const INTROSPECTION_CACHE_MAX = 10_000;
/**
 * Counted from when the request leaves until its answer is read, so a busy isolate's own queueing
 * counts too: 10 s, like the database's connection timeout, before answering 503.
 */
const AUTH_SERVER_TIMEOUT_MS = 10_000;

export interface OAuthSettings {
  authUrl?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** The header typ the provider gives access tokens (OAUTH_ACCESS_TOKEN_TYP, e.g. at+jwt): required when set. */
  accessTokenTyp?: string;
}

/** The bearer settings of a configuration. */
export function oauthSettingsOf(config: Pick<Config, 'AUTH_URL' | 'OAUTH_JWKS_URL' | 'OAUTH_ISSUER' | 'OAUTH_AUDIENCE' | 'OAUTH_ACCESS_TOKEN_TYP'>): OAuthSettings {
  return {
    authUrl: config.AUTH_URL,
    jwksUrl: config.OAUTH_JWKS_URL,
    issuer: config.OAUTH_ISSUER,
    audience: config.OAUTH_AUDIENCE,
    accessTokenTyp: config.OAUTH_ACCESS_TOKEN_TYP,
  };
}

// Per isolate: plain data and resolvers only (no request-bound I/O objects).
const jwksByUrl = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
const introspected = new Map<string, { user: AuthenticatedUser; expiresAt: number }>();
/** Hashes of bearers the auth server refused (4xx), until when to refuse them unasked. */
const refusedIntrospections = new Map<string, number>();

function jwksFor(url: string) {
  let jwks = jwksByUrl.get(url);
  if (!jwks) {
    jwks = createRemoteJWKSet(new URL(url), { cooldownDuration: 30_000, cacheMaxAge: 600_000, timeoutDuration: AUTH_SERVER_TIMEOUT_MS });
    jwksByUrl.set(url, jwks);
  }
  return jwks;
}

function looksLikeJwt(token: string): boolean {
  if (!/^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) return false;
  try {
    decodeProtectedHeader(token);
    return true;
  } catch {
    return false;
  }
}

export async function verifyBearer(token: string, settings: OAuthSettings, now = Date.now()): Promise<AuthenticatedUser> {
  if (settings.jwksUrl && looksLikeJwt(token)) {
    // A JWT is accepted only for this API: issuer and audience are always checked.
    if (!settings.issuer || !settings.audience) {
      throw unavailable('JWT bearers cannot be checked: OAUTH_ISSUER and OAUTH_AUDIENCE must be set with OAUTH_JWKS_URL');
    }
    return verifyJwt(token, settings);
  }
  return introspect(token, settings, now);
}

async function verifyJwt(token: string, settings: OAuthSettings): Promise<AuthenticatedUser> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, jwksFor(settings.jwksUrl!), {
      issuer: settings.issuer,
      audience: settings.audience,
      algorithms: ['RS256', 'ES256', 'EdDSA'],
      // A token that never expires is refused; so is, when the provider marks its access tokens, an ID token.
      requiredClaims: ['exp'],
      ...(settings.accessTokenTyp !== undefined && { typ: settings.accessTokenTyp }),
    }));
  } catch (error) {
    throw jwtFailure(error, settings.accessTokenTyp);
  }
  const claims = jwtClaims.safeParse(payload);
  if (!claims.success) throw unauthorized('Token lacks the claims sub and role');
  return {
    id: claims.data.sub,
    role: claims.data.role,
    email: claims.data.email,
    firstName: claims.data.first_name ?? undefined,
    lastName: claims.data.last_name ?? undefined,
  };
}

function jwtFailure(error: unknown, accessTokenTyp?: string): ApiError {
  if (error instanceof joseErrors.JWTExpired) return unauthorized('Token has expired');
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    if (error.claim === 'nbf') return unauthorized('Token is not valid yet');
    if (error.claim === 'exp') return unauthorized('Token has no expiry (exp claim)');
    if (error.claim === 'typ') return unauthorized(`Token is not an access token (its typ must be ${accessTokenTyp})`);
    return unauthorized(`Token claim "${error.claim}" is not accepted`);
  }
  if (error instanceof joseErrors.JWKSNoMatchingKey) return unauthorized('Token is signed with an unknown key');
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return unauthorized('Token signature is invalid');
  if (error instanceof joseErrors.JWKSTimeout || error instanceof joseErrors.JWKSInvalid) {
    return unavailable('OAuth key set (OAUTH_JWKS_URL) is unavailable');
  }
  // jose raises its plain JOSEError only when the key set answers with other than 200 or not JSON.
  if (error instanceof joseErrors.JOSEError && error.constructor === joseErrors.JOSEError) return unavailable('OAuth key set (OAUTH_JWKS_URL) is unavailable');
  if (error instanceof joseErrors.JOSEError) return unauthorized('Token is not valid');
  // fetch failures of the JWKS endpoint
  return unavailable('OAuth key set (OAUTH_JWKS_URL) is unavailable');
}

async function introspect(token: string, settings: OAuthSettings, now: number): Promise<AuthenticatedUser> {
  if (!settings.authUrl) throw unavailable('Bearer tokens cannot be checked: AUTH_URL is not set');
  const key = await sha256Hex(token);
  const cached = introspected.get(key);
  if (cached && cached.expiresAt > now) return cached.user;
  if (cached) introspected.delete(key);
  const refusedUntil = refusedIntrospections.get(key);
  if (refusedUntil !== undefined && refusedUntil > now) throw unauthorized('Invalid or expired token');
  if (refusedUntil !== undefined) refusedIntrospections.delete(key);

  let response: Response;
  try {
    response = await fetch(settings.authUrl, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      signal: AbortSignal.timeout(AUTH_SERVER_TIMEOUT_MS),
    });
  } catch {
    throw unavailable('OAuth server is unavailable');
  }
  if (response.status >= 400 && response.status < 500) {
    await response.body?.cancel();
    if (refusedIntrospections.size >= INTROSPECTION_CACHE_MAX) refusedIntrospections.delete(refusedIntrospections.keys().next().value!);
    refusedIntrospections.set(key, now + REFUSED_INTROSPECTION_TTL_MS);
    throw unauthorized('Invalid or expired token');
  }
  if (!response.ok) {
    await response.body?.cancel();
    throw unavailable(`OAuth server answered ${response.status}`);
  }
  let document: unknown;
  try {
    document = await response.json();
  } catch (error) {
    // The timeout can fire while the body is still arriving: that is an unavailable server, not a bad document.
    if (error instanceof DOMException && (error.name === 'TimeoutError' || error.name === 'AbortError')) throw unavailable('OAuth server is unavailable');
    document = undefined;
  }
  const parsed = meDocument.safeParse(document);
  if (!parsed.success) throw unavailable('OAuth server answered with an unexpected document');
  const { user } = parsed.data;
  const result: AuthenticatedUser = {
    id: user._id,
    role: user.role,
    email: user.email,
    firstName: user.first_name ?? undefined,
    lastName: user.last_name ?? undefined,
  };
  if (introspected.size >= INTROSPECTION_CACHE_MAX) {
    const oldest = introspected.keys().next().value;
    if (oldest !== undefined) introspected.delete(oldest);
  }
  introspected.set(key, { user: result, expiresAt: now + INTROSPECTION_TTL_MS });
  return result;
}
