// Signed agent requests: X-Timestamp, X-Request-Id and X-Agent-Signature, as the real agent sends
// them (agent-protocol.md §2.3), verified by the agent branch of authentication.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { Hono } from 'hono';
import { beforeAll, describe, expect, it } from 'vitest';
import { RequestDatabase } from '../../db/client.ts';
import { apiOf, apiWith } from '../helpers/api.ts';
import { configFromBindings } from '../../functions/config.ts';
import type { AppEnv } from '../../functions/http/env.ts';
import { handleError } from '../../functions/http/error-handler.ts';
import { authenticate } from '../../functions/middleware/authenticate.ts';
import { pruneAgentRequestIds } from '../../functions/services/agent-signature.ts';
import { sha256Hex } from '../../functions/services/crypto.ts';
import { agentHeaders, api, createAgent, type TestAgent } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

let agent: TestAgent;
beforeAll(async () => {
  agent = await createAgent();
});

async function hmac(key: string, body: string): Promise<Uint8Array> {
  const cryptoKey = await crypto.subtle.importKey('raw', new TextEncoder().encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, new TextEncoder().encode(body)));
}

const base64 = (bytes: Uint8Array) => btoa(String.fromCharCode(...bytes));
const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('');
const nowSeconds = () => Math.floor(Date.now() / 1000);

/** Exactly what the HEAD agent sends with every request to Stacker (§2.3). */
async function signedHeaders(
  who: { agentId: string; token: string },
  body = '',
  overrides: Partial<Record<'timestamp' | 'requestId' | 'signature', string>> = {},
): Promise<Record<string, string>> {
  return {
    'x-agent-id': who.agentId,
    'x-timestamp': overrides.timestamp ?? String(nowSeconds()),
    'x-request-id': overrides.requestId ?? crypto.randomUUID(),
    'x-agent-signature': overrides.signature ?? base64(await hmac(who.token, body)),
    authorization: `Bearer ${who.token}`,
    accept: '*/*',
  };
}

async function message(response: Response): Promise<string> {
  return ((await response.json()) as { message: string }).message;
}

/** The Worker's own middleware chain in front of a POST route that echoes the caller and the body. */
function echoApp() {
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    const config = configFromBindings(c.env);
    c.set('config', config);
    const database = new RequestDatabase({ url: config.DATABASE_URL!, wsProxy: config.DATABASE_WS_PROXY });
    c.set('database', database);
    try {
      await next();
    } finally {
      await database.close();
    }
  });
  app.use(authenticate);
  app.post('/echo', async (c) => c.json({ principal: c.var.principal, body: await c.req.json() }));
  app.onError(handleError);
  return app;
}

describe('signed agent requests', () => {
  it('accepts the exact headers of the real agent on GET /whoami (MAC over the empty body)', async () => {
    const response = await api('/whoami', { headers: await signedHeaders(agent) });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      message: 'OK',
      item: { kind: 'agent', subject: 'agent', agent_id: agent.agentId, deployment_hash: agent.deploymentHash },
    });
  });

  it('accepts a POST whose body is signed, and the route still reads the body', async () => {
    const body = JSON.stringify({ command_id: 'cmd_1', status: 'success', completed_at: '2026-07-13T12:00:00Z', note: 'ünïcödé' });
    const response = await apiOf(echoApp(), '/echo', { method: 'POST', body, headers: { 'content-type': 'application/json', ...(await signedHeaders(agent, body)) } });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      principal: { kind: 'agent', subject: 'agent', agentId: agent.agentId, deploymentHash: agent.deploymentHash, lastHeartbeatAt: null },
      body: JSON.parse(body),
    });
  });

  it('accepts a hex signature too', async () => {
    const response = await api('/whoami', { headers: await signedHeaders(agent, '', { signature: hex(await hmac(agent.token, '')) }) });
    expect(response.status).toBe(200);
  });

  it('refuses a wrong signature with 401', async () => {
    const otherKey = await signedHeaders(agent, '', { signature: base64(await hmac(`${agent.token}x`, '')) });
    const response = await api('/whoami', { headers: otherKey });
    expect(response.status).toBe(401);
    expect(await message(response)).toMatch(/bad signature/);

    const body = JSON.stringify({ a: 1 });
    const tampered = await apiOf(echoApp(), '/echo', {
      method: 'POST',
      body: JSON.stringify({ a: 2 }),
      headers: { 'content-type': 'application/json', ...(await signedHeaders(agent, body)) },
    });
    expect(tampered.status).toBe(401);
    expect(await message(tampered)).toMatch(/bad signature/);

    const encoding = await api('/whoami', { headers: await signedHeaders(agent, '', { signature: 'not a signature' }) });
    expect(encoding.status).toBe(401);
    expect(await message(encoding)).toMatch(/bad signature encoding/);
  });

  it('refuses a stale, missing or malformed timestamp with 401', async () => {
    for (const timestamp of [String(nowSeconds() - 310), String(nowSeconds() + 310)]) {
      const response = await api('/whoami', { headers: await signedHeaders(agent, '', { timestamp }) });
      expect(response.status).toBe(401);
      expect(await message(response)).toMatch(/stale timestamp/);
    }
    expect((await api('/whoami', { headers: await signedHeaders(agent, '', { timestamp: String(nowSeconds() - 290) }) })).status).toBe(200);

    const missing = await signedHeaders(agent);
    delete missing['x-timestamp'];
    const noTimestamp = await api('/whoami', { headers: missing });
    expect(noTimestamp.status).toBe(401);
    expect(await message(noTimestamp)).toMatch(/X-Timestamp header is missing/);

    for (const timestamp of ['abc', '1.5', '-5', '', '99999999999999999999']) {
      const response = await api('/whoami', { headers: await signedHeaders(agent, '', { timestamp }) });
      expect(response.status, timestamp).toBe(401);
      expect(await message(response)).toMatch(/X-Timestamp is invalid/);
    }
  });

  it('refuses a replayed request id with 409; ids are per agent', async () => {
    const requestId = crypto.randomUUID();
    expect((await api('/whoami', { headers: await signedHeaders(agent, '', { requestId }) })).status).toBe(200);
    const replay = await api('/whoami', { headers: await signedHeaders(agent, '', { requestId }) });
    expect(replay.status).toBe(409);
    expect(await message(replay)).toBe('Replayed request (X-Request-Id already used)');

    const other = await createAgent();
    expect((await api('/whoami', { headers: await signedHeaders(other, '', { requestId }) })).status).toBe(200);
  });

  it('does not remember the id of a request that failed verification', async () => {
    const requestId = crypto.randomUUID();
    const bad = await api('/whoami', { headers: await signedHeaders(agent, '', { requestId, signature: base64(await hmac('wrong', '')) }) });
    expect(bad.status).toBe(401);
    expect((await api('/whoami', { headers: await signedHeaders(agent, '', { requestId }) })).status).toBe(200);
  });

  it('requires a usable X-Request-Id on signed requests', async () => {
    const headers = await signedHeaders(agent);
    delete headers['x-request-id'];
    const missing = await api('/whoami', { headers });
    expect(missing.status).toBe(401);
    expect(await message(missing)).toMatch(/X-Request-Id header is missing/);
    const long = await api('/whoami', { headers: await signedHeaders(agent, '', { requestId: 'r'.repeat(129) }) });
    expect(long.status).toBe(401);
    expect(await message(long)).toMatch(/X-Request-Id is invalid/);
    expect((await api('/whoami', { headers: await signedHeaders(agent, '', { requestId: `r${crypto.randomUUID()}`.padEnd(128, 'x') }) })).status).toBe(200);
  });

  it('checks the token before the signature: a request signed with a wrong token is 401 Invalid agent credentials', async () => {
    const wrong = { agentId: agent.agentId, token: `${agent.token}x` };
    const response = await api('/whoami', { headers: await signedHeaders(wrong) });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid agent credentials');
  });

  it('keys the MAC with the presented token: the previous token during its grace period works', async () => {
    const rotated = await createAgent();
    const newToken = `rotated-${crypto.randomUUID()}`;
    const newHash = await sha256Hex(newToken);
    await withDatabase((db) =>
      db.execute(sql`update agents set previous_token_hash = token_hash, previous_token_expires_at = now() + interval '5 minutes',
        token_hash = ${newHash} where id = ${rotated.agentId}`),
    );
    expect((await api('/whoami', { headers: await signedHeaders(rotated) })).status).toBe(200);
    expect((await api('/whoami', { headers: await signedHeaders({ agentId: rotated.agentId, token: newToken }) })).status).toBe(200);
    // Bearer new, MAC keyed with the old: refused.
    const mixed = await signedHeaders({ agentId: rotated.agentId, token: newToken }, '', { signature: base64(await hmac(rotated.token, '')) });
    expect((await api('/whoami', { headers: mixed })).status).toBe(401);
  });

  it('AGENT_REQUIRE_SIGNATURE: unsigned requests pass when off, are 401 when on', async () => {
    expect((await apiWith({}, '/whoami', { headers: agentHeaders(agent) })).status).toBe(200);
    expect((await apiWith({ AGENT_REQUIRE_SIGNATURE: 'off' }, '/whoami', { headers: agentHeaders(agent) })).status).toBe(200);

    const on = { AGENT_REQUIRE_SIGNATURE: 'on' };
    const unsigned = await apiWith(on, '/whoami', { headers: agentHeaders(agent) });
    expect(unsigned.status).toBe(401);
    expect(await message(unsigned)).toMatch(/X-Timestamp header is missing/);

    const noSignature = await signedHeaders(agent);
    delete noSignature['x-agent-signature'];
    const withoutSignature = await apiWith(on, '/whoami', { headers: noSignature });
    expect(withoutSignature.status).toBe(401);
    expect(await message(withoutSignature)).toMatch(/X-Agent-Signature header is missing/);

    expect((await apiWith(on, '/whoami', { headers: await signedHeaders(agent) })).status).toBe(200);
  });

  it('never answers 500 to odd header values', async () => {
    const odd = ['', ' ', '0', '=', '+///', '===='.repeat(20), 'A'.repeat(10_000)];
    for (const value of odd) {
      for (const name of ['timestamp', 'requestId', 'signature'] as const) {
        const response = await api('/whoami', { headers: await signedHeaders(agent, '', { [name]: value }) });
        expect([200, 401, 409], `${name}=${value.slice(0, 20)}`).toContain(response.status);
      }
    }
  });

  it('the cron forgets request ids older than 10 minutes', async () => {
    const fresh = crypto.randomUUID();
    const old = crypto.randomUUID();
    await withDatabase((db) =>
      db.execute(sql`insert into agent_request_id (agent_id, request_id, seen_at) values
        (${agent.agentId}, ${fresh}, now() - interval '9 minutes'), (${agent.agentId}, ${old}, now() - interval '11 minutes')`),
    );
    await withDatabase((db) => pruneAgentRequestIds(db));
    const left = await withDatabase(async (db) =>
      (await db.execute<{ request_id: string }>(sql`select request_id from agent_request_id where request_id in (${fresh}, ${old})`)).rows.map((row) => row.request_id),
    );
    expect(left).toEqual([fresh]);
  });

  it('remembers a future-dated request id until its timestamp has gone stale', async () => {
    const requestId = crypto.randomUUID();
    const timestamp = String(nowSeconds() + 250);
    expect((await api('/whoami', { headers: await signedHeaders(agent, '', { requestId, timestamp }) })).status).toBe(200);
    const seenAt = await withDatabase(async (db) =>
      (await db.execute<{ ahead: number }>(sql`select extract(epoch from seen_at - now())::int as ahead from agent_request_id where request_id = ${requestId}`)).rows[0]!.ahead,
    );
    expect(seenAt).toBeGreaterThan(240);
  });
});
