// Failed authentication is throttled per IP address for every method (bearer, API-client signature,
// agent token, the dashboard's sign-in callback): past RATE_LIMIT_AUTH_FAILURES_PER_MINUTE failures,
// 429 with Retry-After, without checking the credential again; and a refused introspection is
// remembered for a few seconds, so the same bad bearer does not reach the auth server each time.
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { apiWith } from '../helpers/api.ts';
import { agentHeaders, bearerFor, createAgent, createApiClientFor, hmacHeaders, uniqueId } from '../helpers/auth.ts';

const LIMIT = 3;

/** A fresh address per test (trusted as Cloudflare's), so each test has its own bucket. */
function caller() {
  const ip = `198.18.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 1}`;
  const settings = {
    RATE_LIMIT_AUTH_FAILURES_PER_MINUTE: String(LIMIT),
    TRUST_CF_CONNECTING_IP: 'on',
    // The dashboard's sign-in, configured (its callback then checks what the provider sent).
    OAUTH_AUTHORIZE_URL: 'https://auth.example/authorize',
    OAUTH_TOKEN_URL: 'https://auth.example/token',
    OAUTH_CLIENT_ID: 'dash',
  };
  return (path: string, init: RequestInit = {}) =>
    apiWith(settings, path, { ...init, headers: { ...Object.fromEntries(new Headers(init.headers)), 'cf-connecting-ip': ip } });
}

async function stubHits(token: string): Promise<number> {
  const response = await fetch(`${inject('oauthStubUrl')}/hits?token=${encodeURIComponent(token)}`);
  return ((await response.json()) as { hits: number }).hits;
}

async function expectThrottled(response: Response): Promise<void> {
  expect(response.status).toBe(429);
  expect(Number(response.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  const body = (await response.json()) as { message: string };
  expect(body.message).toMatch(/^Too many failed authentications from this address: retry in \d+ s$/);
}

describe('failed authentication, throttled per address', () => {
  it('bad bearers: 401 up to the limit, then 429 with Retry-After, without asking the auth server; another address is not affected', async () => {
    const send = caller();
    for (let i = 0; i < LIMIT; i++) expect((await send('/whoami', { headers: { authorization: `Bearer bad-${uniqueId('t')}` } })).status).toBe(401);
    const next = `bad-${uniqueId('t')}`;
    await expectThrottled(await send('/whoami', { headers: { authorization: `Bearer ${next}` } }));
    expect(await stubHits(next)).toBe(0);
    // The address is held back for every credential until then, even a good one.
    await expectThrottled(await send('/whoami', { headers: bearerFor('group_user', uniqueId('u')) }));
    expect((await caller()('/whoami', { headers: bearerFor('group_user', uniqueId('u')) })).status).toBe(200);
  });

  it('bad API-client signatures and bad agent tokens count the same way', async () => {
    const apiClient = await createApiClientFor();
    const send = caller();
    for (let i = 0; i < LIMIT; i++) {
      const response = await send('/whoami', { headers: await hmacHeaders({ id: apiClient.id, secret: 'not-the-secret' }, 'GET', '/whoami') });
      expect(response.status).toBe(401);
    }
    await expectThrottled(await send('/whoami', { headers: await hmacHeaders({ id: apiClient.id, secret: 'not-the-secret' }, 'GET', '/whoami') }));

    const agent = await createAgent();
    const other = caller();
    for (let i = 0; i < LIMIT; i++) expect((await other('/whoami', { headers: agentHeaders({ agentId: agent.agentId, token: `${agent.token}x` }) })).status).toBe(401);
    await expectThrottled(await other('/whoami', { headers: agentHeaders({ agentId: agent.agentId, token: `${agent.token}x` }) }));
  });

  it('good credentials do not count', async () => {
    const send = caller();
    const headers = bearerFor('group_user', uniqueId('u'));
    for (let i = 0; i < LIMIT * 3; i++) expect((await send('/whoami', { headers })).status).toBe(200);
  });

  it('failed dashboard sign-in callbacks count too, answered with a page', async () => {
    const send = caller();
    for (let i = 0; i < LIMIT; i++) expect((await send(`/auth/callback?code=c${i}&state=s${i}`)).status).toBe(400);
    const refused = await send('/auth/callback?code=c&state=s');
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.text()).toContain('Too many failed authentications from this address');
  });

  it('a refused introspection is remembered for a few seconds: the same bad bearer reaches the auth server once', async () => {
    const token = `bad-${uniqueId('intro')}`;
    for (let i = 0; i < 3; i++) expect((await apiWith({}, '/whoami', { headers: { authorization: `Bearer ${token}` } })).status).toBe(401);
    expect(await stubHits(token)).toBe(1);
  });
});
