// Stands in for the TryDirect OAuth server: the "me" introspection endpoint and a JWKS.
//   GET /me with "Bearer user-<role>-<id>" answers that user (the TryDirect document shape);
//   "Bearer fail-<status>" answers that status; anything else is 401.
//   GET /hits?token=T tells how many times /me saw T.
//   GET /jwks.json serves the public half of the signing key.
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { sendJson, startStubServer, type StubServer } from './http.ts';

export const OAUTH_ISSUER = 'https://auth.stacker.test';
export const OAUTH_AUDIENCE = 'stacker-api';
export const JWT_KEY_ID = 'test-key-1';

export interface OAuthStub extends StubServer {
  meUrl: string;
  jwksUrl: string;
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

  const server = await startStubServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (url.pathname === '/jwks.json') return sendJson(res, 200, { keys: [publicJwk] });
    if (url.pathname === '/hits') return sendJson(res, 200, { hits: hits.get(url.searchParams.get('token') ?? '') ?? 0 });
    if (url.pathname !== '/me') return sendJson(res, 404, { error: 'not found' });

    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '';
    hits.set(token, (hits.get(token) ?? 0) + 1);
    const failure = /^fail-(\d{3})$/.exec(token);
    if (failure) return sendJson(res, Number(failure[1]), { error: 'failure on request' });
    const user = /^user-([a-z_]*)-([\w.]+)$/.exec(token);
    if (!user) return sendJson(res, 401, { error: 'invalid_token' });
    return sendJson(res, 200, meDocument(user[2]!, user[1]!));
  });
  return { ...server, meUrl: `${server.url}/me`, jwksUrl: `${server.url}/jwks.json`, privateJwk };
}
