// Stands in for the TryDirect OAuth server: the "me" introspection endpoint and a JWKS.
//   GET /me with "Bearer user-<role>-<id>" answers that user (the TryDirect document shape);
//   "Bearer fail-<status>" answers that status; anything else is 401.
//   GET /hits?token=T tells how many times /me saw T.
//   GET /jwks.json serves the public half of the signing key.
//   POST /token (form): the dashboard's code exchange and refreshes, as an OAuth token endpoint answers.
//     grant_type=authorization_code with code=<a "user-<role>-<id>" token> issues that token and a
//     refresh token; grant_type=refresh_token with a live refresh token issues the user's token at
//     their role now, and a new refresh token (the old one is spent); otherwise 400 invalid_grant.
//   POST /users/<id> {"role": R} changes the user's role (/me and refreshes answer it from then on);
//     {"revoked": true} revokes the user: /me answers 401 for them and their refresh tokens are refused.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { sendJson, startStubServer, type StubServer } from './http.ts';

export const OAUTH_ISSUER = 'https://auth.stacker.test';
export const OAUTH_AUDIENCE = 'stacker-api';
export const JWT_KEY_ID = 'test-key-1';

export interface OAuthStub extends StubServer {
  meUrl: string;
  jwksUrl: string;
  tokenUrl: string;
  privateJwk: JWK;
}

export function meDocument(id: string, role: string) {
  // The fields the real server sends, most of them null, as the reference's test mock does.
  return {
    user: {
      _id: id,
      email: `${id}@example.test`,
      email_confirmed: true,
      role,
      first_name: null,
      last_name: null,
      created: null,
      updated: null,
      social: null,
      website: null,
      phone: null,
      photo: null,
      country: null,
      currency: null,
      password_change_required: null,
      billing_first_name: null,
      billing_last_name: null,
      deployments_left: null,
      tokens: null,
      subscriptions: null,
      plan: null,
      suspension_hints: null,
    },
  };
}

export async function startOAuthStub(): Promise<OAuthStub> {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: JWT_KEY_ID, alg: 'RS256', use: 'sig' };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: JWT_KEY_ID, alg: 'RS256' };
  const hits = new Map<string, number>();
  /** Changes made through POST /users/<id>: a new role, or revoked. */
  const users = new Map<string, { role?: string; revoked?: boolean }>();
  /** Live refresh tokens, each naming its user and the role they signed in with. */
  const refreshTokens = new Map<string, { id: string; role: string }>();
  const issue = (id: string, role: string) => {
    const refresh = `refresh-${randomUUID()}`;
    refreshTokens.set(refresh, { id, role });
    return { access_token: `user-${users.get(id)?.role ?? role}-${id}`, token_type: 'Bearer', expires_in: 3600, refresh_token: refresh };
  };

  const server = await startStubServer((req, res, body) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname === '/jwks.json') return sendJson(res, 200, { keys: [publicJwk] });
    if (req.method === 'POST' && url.pathname === '/token') {
      const form = new URLSearchParams(body);
      if (form.get('grant_type') === 'authorization_code') {
        const user = /^user-([a-z_]*)-([\w.]+)$/.exec(form.get('code') ?? '');
        if (!user) return sendJson(res, 400, { error: 'invalid_grant' });
        return sendJson(res, 200, issue(user[2]!, user[1]!));
      }
      const holder = refreshTokens.get(form.get('refresh_token') ?? '');
      if (form.get('grant_type') !== 'refresh_token' || holder === undefined || users.get(holder.id)?.revoked) return sendJson(res, 400, { error: 'invalid_grant' });
      refreshTokens.delete(form.get('refresh_token')!);
      return sendJson(res, 200, issue(holder.id, holder.role));
    }
    const changed = /^\/users\/([\w.]+)$/.exec(url.pathname);
    if (req.method === 'POST' && changed) {
      users.set(changed[1]!, { ...users.get(changed[1]!), ...(JSON.parse(body) as { role?: string; revoked?: boolean }) });
      return sendJson(res, 200, { ok: true });
    }
    if (url.pathname === '/hits') return sendJson(res, 200, { hits: hits.get(url.searchParams.get('token') ?? '') ?? 0 });
    if (url.pathname !== '/me') return sendJson(res, 404, { error: 'not found' });

    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    hits.set(token, (hits.get(token) ?? 0) + 1);
    const failure = /^fail-(\d{3})$/.exec(token);
    if (failure) return sendJson(res, Number(failure[1]), { error: 'failure on request' });
    const user = /^user-([a-z_]*)-([\w.]+)$/.exec(token);
    if (!user || users.get(user[2]!)?.revoked) return sendJson(res, 401, { error: 'invalid_token' });
    return sendJson(res, 200, meDocument(user[2]!, users.get(user[2]!)?.role ?? user[1]!));
  });
  return { ...server, meUrl: `${server.url}/me`, jwksUrl: `${server.url}/jwks.json`, tokenUrl: `${server.url}/token`, privateJwk };
}
