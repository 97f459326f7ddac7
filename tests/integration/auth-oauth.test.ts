import { generateKeyPair } from 'jose';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { apiWith } from '../helpers/api.ts';
import { api, bearerFor, signJwt, uniqueId } from '../helpers/auth.ts';

// POST /client is for users only (group_user and up): a 201 proves who the caller was taken for,
// and GET /health_check (open to all) proves authentication alone.
async function message(response: Response): Promise<string> {
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  return ((await response.json()) as { message: string }).message;
}

const withBearer = (token: string) => ({ authorization: `Bearer ${token}` });

async function stubHits(token: string): Promise<number> {
  const response = await fetch(`${inject('oauthStubUrl')}/hits?token=${encodeURIComponent(token)}`);
  return ((await response.json()) as { hits: number }).hits;
}

describe('JWT bearers (verified with the JWKS)', () => {
  it('accepts a valid token and takes id, role and email from its claims', async () => {
    const userId = uniqueId('jwt');
    const token = await signJwt({ sub: userId, role: 'group_user', email: 'a@b.c' });
    const response = await api('/client', { method: 'POST', headers: withBearer(token) });
    expect(response.status).toBe(201);
    expect(((await response.json()) as { item: { user_id: string } }).item.user_id).toBe(userId);
  });

  it('refuses an expired token', async () => {
    const token = await signJwt({ sub: 'u1', role: 'group_user' }, { expiresIn: Math.floor(Date.now() / 1000) - 120 });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Token has expired');
  });

  it('refuses a token that is not valid yet', async () => {
    const token = await signJwt({ sub: 'u1', role: 'group_user' }, { notBefore: Math.floor(Date.now() / 1000) + 600 });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Token is not valid yet');
  });

  it('refuses a wrong issuer', async () => {
    const token = await signJwt({ sub: 'u1', role: 'group_user' }, { issuer: 'https://evil.example' });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Token claim "iss" is not accepted');
  });

  it('refuses a wrong audience', async () => {
    const token = await signJwt({ sub: 'u1', role: 'group_user' }, { audience: 'another-api' });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Token claim "aud" is not accepted');
  });

  it('refuses a bad signature (right kid, other key)', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await signJwt({ sub: 'u1', role: 'group_user' }, { key: privateKey });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Token signature is invalid');
  });

  it('refuses an unknown kid', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const token = await signJwt({ sub: 'u1', role: 'group_user' }, { key: privateKey, kid: 'someone-elses-key' });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Token is signed with an unknown key');
  });

  it('will not check JWTs without a pinned issuer and audience (503, never an unchecked token)', async () => {
    const token = await signJwt({ sub: 'u1', role: 'group_user' });
    const response = await apiWith({ OAUTH_AUDIENCE: undefined }, '/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(503);
    expect(await message(response)).toMatch(/OAUTH_ISSUER and OAUTH_AUDIENCE/);
  });

  it('refuses a token without an expiry (exp)', async () => {
    const token = await signJwt({ sub: 'u1', role: 'group_user' }, { expiresIn: null });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Token has no expiry (exp claim)');
  });

  it('with OAUTH_ACCESS_TOKEN_TYP=at+jwt takes only access tokens: an ID token (typ JWT) or a token without typ is refused', async () => {
    const settings = { OAUTH_ACCESS_TOKEN_TYP: 'at+jwt' };
    const claims = { sub: uniqueId('typ'), role: 'group_user' };
    for (const typ of ['at+jwt', 'application/at+jwt']) {
      const response = await apiWith(settings, '/client', { method: 'POST', headers: withBearer(await signJwt(claims, { typ })) });
      expect(response.status, typ).toBe(201);
    }
    for (const typ of ['JWT', undefined]) {
      const response = await apiWith(settings, '/health_check', { headers: withBearer(await signJwt(claims, { typ })) });
      expect(response.status, String(typ)).toBe(401);
      expect(await message(response)).toBe('Token is not an access token (its typ must be at+jwt)');
    }
    // Without the setting the provider's typ is not looked at.
    expect((await api('/health_check', { headers: withBearer(await signJwt(claims, { typ: 'JWT' })) })).status).toBe(200);
  });

  it('refuses a token without a role claim', async () => {
    const token = await signJwt({ sub: 'u1' });
    const response = await api('/health_check', { headers: withBearer(token) });
    expect(response.status).toBe(401);
  });
});

describe('opaque bearers (introspected at AUTH_URL)', () => {
  it('a second request with the same bearer within 60 s does not reach the auth server', async () => {
    const token = `user-group_user-${uniqueId('intro')}`;
    expect((await api('/health_check', { headers: withBearer(token) })).status).toBe(200);
    expect((await api('/health_check', { headers: withBearer(token) })).status).toBe(200);
    expect((await api('/client', { method: 'POST', headers: withBearer(token) })).status).toBe(201);
    expect(await stubHits(token)).toBe(1);
  });

  it('an unknown token is 401 with a JSON message', async () => {
    const response = await api('/health_check', { headers: withBearer(`no-such-token-${uniqueId('x')}`) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid or expired token');
  });

  it('the auth server failing is 503, never a user', async () => {
    const response = await api('/client', { method: 'POST', headers: withBearer('fail-500') });
    expect(response.status).toBe(503);
    expect(await message(response)).toBe('OAuth server answered 500');
  });

  it('the auth server down is 503, never a user (even on loopback)', async () => {
    const response = await apiWith({ AUTH_URL: 'http://127.0.0.1:9/me' }, '/client', { method: 'POST', headers: bearerFor('group_user', 'down') });
    expect(response.status).toBe(503);
    expect(await message(response)).toBe('OAuth server is unavailable');
  });

  it('a malformed Authorization header is 401, never 400', async () => {
    for (const header of ['Bearer', 'Bearer ', 'Token abc', 'bearer abc', 'Bearer a b']) {
      const response = await api('/health_check', { headers: { authorization: header } });
      expect(response.status, header).toBe(401);
    }
  });

  it('a role with no rules gets 403 on a user route, and an empty role is 401', async () => {
    const stranger = await api('/client', { method: 'POST', headers: bearerFor('stranger', uniqueId('s')) });
    expect(stranger.status).toBe(403);
    const empty = await api('/health_check', { headers: bearerFor('', uniqueId('e')) });
    expect(empty.status).toBe(401);
  });
});
