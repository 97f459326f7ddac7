import { env, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { RATE_LIMITER_SHARDS, shardOf } from '../../functions/services/rate-limit.ts';
import { AgentSimulator } from '../helpers/agent-simulator.ts';
import { apiWith, bearerFor, createAgent, createApiClientFor, hmacHeaders, uniqueId } from '../helpers/auth.ts';

// The suite runs with limits of 1,000,000/min (tests/global-setup.ts); these tests set low ones.
const limits = (perMinute: number) => ({
  RATE_LIMIT_USER_PER_MINUTE: String(perMinute),
  RATE_LIMIT_CLIENT_PER_MINUTE: String(perMinute),
  RATE_LIMIT_AGENT_PER_MINUTE: String(perMinute),
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: String(perMinute),
});

async function expectRateLimited(response: Response) {
  expect(response.status).toBe(429);
  const retryAfter = Number(response.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
  expect(response.headers.get('content-type')).toMatch(/application\/json/);
  const body = (await response.json()) as { message: string };
  expect(body.message).toMatch(/Too many requests.*per minute.*retry in \d+ s/);
  return body;
}

describe('rate limits: 429 with Retry-After, per caller', () => {
  it('per user: the limit counts that user only', async () => {
    const user = bearerFor('group_user', uniqueId('rl'));
    for (let i = 0; i < 3; i++) expect((await apiWith(limits(3), '/whoami', { headers: user })).status).toBe(200);
    const body = await expectRateLimited(await apiWith(limits(3), '/whoami', { headers: user }));
    expect(body.message).toContain('this user may send 3 per minute');
    expect((await apiWith(limits(3), '/whoami', { headers: bearerFor('group_user', uniqueId('rl')) })).status).toBe(200);
  });

  it('per API client, separately from its owner', async () => {
    const apiClient = await createApiClientFor();
    for (let i = 0; i < 2; i++) expect((await apiWith(limits(2), '/whoami', { headers: await hmacHeaders(apiClient, 'GET', '/whoami') })).status).toBe(200);
    const body = await expectRateLimited(await apiWith(limits(2), '/whoami', { headers: await hmacHeaders(apiClient, 'GET', '/whoami') }));
    expect(body.message).toContain('this API client');
    expect((await apiWith(limits(2), '/whoami', { headers: bearerFor('group_user', apiClient.userId) })).status).toBe(200);
  });

  it('per agent', async () => {
    const agent = await createAgent();
    const sim = new AgentSimulator({ agentId: agent.agentId, token: agent.token, deploymentHash: agent.deploymentHash });
    const post = async () => {
      const text = JSON.stringify({ deployment_hash: agent.deploymentHash, app_code: 'web', status: 'running', logs: [], timestamp: new Date().toISOString() });
      return apiWith(limits(2), '/api/v1/apps/status', { method: 'POST', headers: { ...(await sim.headers(text)), 'content-type': 'application/json' }, body: text });
    };
    expect((await post()).status).toBe(200);
    expect((await post()).status).toBe(200);
    const body = await expectRateLimited(await post());
    expect(body.message).toContain('this agent');
    const other = await createAgent();
    expect((await apiWith(limits(2), `/api/v1/deployments/${other.deploymentHash}/agent`, { headers: bearerFor('group_user', other.ownerId) })).status).toBe(200);
  });

  it('per address for anonymous callers; signed webhooks are not throttled by address', async () => {
    const from = (ip: string) => ({ headers: { 'cf-connecting-ip': ip } });
    // Behind Cloudflare (TRUST_CF_CONNECTING_IP=on) the header names the address; tests/integration/client-address.test.ts checks it is ignored otherwise.
    const trusted = (perMinute: number) => ({ ...limits(perMinute), TRUST_CF_CONNECTING_IP: 'on' });
    const ip = `203.0.113.${Math.floor(Math.random() * 250) + 1}`;
    expect((await apiWith(trusted(1), '/whoami', from(ip))).status).toBe(200);
    await expectRateLimited(await apiWith(trusted(1), '/whoami', from(ip)));
    expect((await apiWith(trusted(1), '/whoami', from('2001:db8::1'))).status).toBe(200);
    // The webhook checks its own signature: beyond the anonymous limit it still answers 401, not 429.
    for (let i = 0; i < 3; i++) {
      const response = await apiWith(trusted(1), '/webhooks/install', { method: 'POST', headers: { ...from(ip).headers, 'content-type': 'application/json' }, body: '{}' });
      expect(response.status).toBe(401);
    }
  });

  it('0 turns a limit off', async () => {
    const user = bearerFor('group_user', uniqueId('rl'));
    for (let i = 0; i < 5; i++) expect((await apiWith({ ...limits(1), RATE_LIMIT_USER_PER_MINUTE: '0' }, '/whoami', { headers: user })).status).toBe(200);
  });

  it('a refused request does not count: the bucket holds exactly `limit` per window', async () => {
    const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`test:${crypto.randomUUID()}`));
    const decisions = [];
    for (let i = 0; i < 5; i++) decisions.push(await limiter.consume('user:a', 3, 60_000));
    // another caller of the same shard has a bucket of its own
    expect((await limiter.consume('user:b', 3, 60_000)).allowed).toBe(true);
    expect(decisions.map((decision) => decision.allowed)).toEqual([true, true, true, false, false]);
    expect(decisions.map((decision) => decision.remaining)).toEqual([2, 1, 0, 0, 0]);
    // one request comes back every 20 s
    expect(decisions[3]!.retryAfterSeconds).toBeGreaterThan(15);
    expect(decisions[3]!.retryAfterSeconds).toBeLessThanOrEqual(20);
  });
});

describe('the rate limiter object', () => {
  it('writes its bucket to storage only once it is less than half full (so a caller within its limit costs no write)', async () => {
    const limiter = env.RATE_LIMITER.get(env.RATE_LIMITER.idFromName(`test:${crypto.randomUUID()}`));
    const stored = () => runInDurableObject(limiter, (_instance, state) => state.storage.kv.get<number>('agent:x'));
    for (let i = 0; i < 5; i++) await limiter.consume('agent:x', 10, 60_000);
    expect(await stored()).toBeUndefined();
    await limiter.consume('agent:x', 10, 60_000);
    expect(await stored()).toBeGreaterThan(Date.now());
  });

  it('spreads callers evenly over the shards', () => {
    const counts = new Array<number>(RATE_LIMITER_SHARDS).fill(0);
    for (let i = 0; i < 6_400; i++) counts[shardOf(`agent:${crypto.randomUUID()}`)]!++;
    expect(Math.min(...counts)).toBeGreaterThan(50);
    expect(Math.max(...counts)).toBeLessThan(160);
  });
});

describe('CORS: only configured origins, never an echo of any origin', () => {
  const console = 'https://console.example.com';
  const settings = { CORS_ALLOWED_ORIGINS: `${console}, https://admin.example.com` };

  it('a configured origin gets its own name back, with credentials', async () => {
    const response = await apiWith(settings, '/health_check', { headers: { origin: console } });
    expect(response.headers.get('access-control-allow-origin')).toBe(console);
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    expect(response.headers.get('access-control-expose-headers')).toContain('X-Request-Id');
  });

  it('another origin gets no CORS grant', async () => {
    const response = await apiWith(settings, '/health_check', { headers: { origin: 'https://evil.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('preflight from a configured origin names the methods and headers; nothing when unconfigured', async () => {
    const preflight = { method: 'OPTIONS', headers: { origin: console, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } };
    const allowed = await apiWith(settings, '/project', preflight);
    expect(allowed.status).toBe(204);
    expect(allowed.headers.get('access-control-allow-origin')).toBe(console);
    expect(allowed.headers.get('access-control-allow-methods')).toContain('POST');
    expect(allowed.headers.get('access-control-allow-headers')?.toLowerCase()).toContain('authorization');
    const unconfigured = await apiWith({}, '/project', preflight);
    expect(unconfigured.headers.get('access-control-allow-origin')).toBeNull();
    await unconfigured.body?.cancel();
  });

  it('a malformed origin list is a configuration error naming the setting', async () => {
    const response = await apiWith({ CORS_ALLOWED_ORIGINS: 'https://console.example.com/app' }, '/health_check');
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toContain('CORS_ALLOWED_ORIGINS');
  });
});
