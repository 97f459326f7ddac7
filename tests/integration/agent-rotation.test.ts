// Agent token rotation: the Vault adapter (node-vault, run here inside workerd against the loopback
// Vault stub), POST /admin/agent/{deployment_hash}/rotate-token, and the grace period.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { apiWith } from '../helpers/api.ts';
import { sha256Hex } from '../../functions/services/crypto.ts';
import { kvAgentTokenVault, vaultFromConfig } from '../../functions/services/vault-kv.ts';
import { VaultUnavailableError } from '../../functions/services/vault.ts';
import { parseConfig } from '../../functions/config.ts';
import { agentHeaders, api, bearerFor, createAgent, createApiClientFor, hmacHeaders, jsonRequest, uniqueId, type TestAgent } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

const vaultStubUrl = inject('vaultStubUrl');
const agentStubUrl = inject('agentStubUrl');
const admin = () => bearerFor('group_admin', uniqueId('admin'));

function testVault(overrides: { address?: string; vaultToken?: string; timeoutMs?: number } = {}) {
  return kvAgentTokenVault({
    address: overrides.address ?? env.VAULT_ADDRESS,
    vaultToken: overrides.vaultToken ?? env.VAULT_TOKEN,
    pathPrefix: 'agent',
    keys: ['token', 'status_panel_token'],
    timeoutMs: overrides.timeoutMs,
  });
}

async function stored(path: string): Promise<unknown> {
  const response = await fetch(`${vaultStubUrl}/__stored?path=${encodeURIComponent(path)}`);
  return response.status === 200 ? ((await response.json()) as { data: unknown }).data : undefined;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

type AgentRow = {
  token_hash: string | null;
  previous_token_hash: string | null;
  previous_token_expires_at: string | null;
  token_rotated_at: string | null;
};

async function agentRow(agentId: string): Promise<AgentRow> {
  return withDatabase(async (db) => {
    const result = await db.execute<AgentRow>(sql`
      select token_hash, previous_token_hash, previous_token_expires_at::text, token_rotated_at::text from agents where id = ${agentId}`);
    return result.rows[0]!;
  });
}

const whoami = (headers: Record<string, string>, bindings: Record<string, unknown> = {}) => apiWith(bindings, '/whoami', { headers });

function rotate(hash: string, init: { body?: unknown; headers?: Record<string, string>; bindings?: Record<string, unknown> } = {}) {
  const headers = init.headers ?? admin();
  const request = init.body === undefined ? { method: 'POST', headers } : jsonRequest('POST', init.body, headers);
  return apiWith(init.bindings ?? {}, `/admin/agent/${hash}/rotate-token`, request);
}

interface Rotated {
  message: string;
  item: { deployment_hash: string; agent_token: string; previous_token_valid_until: string };
}

describe('kvAgentTokenVault (node-vault inside workerd)', () => {
  it('writes the KV v2 body under every configured key and reads data.data.token back', async () => {
    const vault = testVault();
    const hash = `deployment_${crypto.randomUUID()}`;
    await vault.store(hash, 'token-value-one');
    expect(await stored(`agent/${hash}/token`)).toEqual({ token: 'token-value-one', deployment_hash: hash });
    expect(await stored(`agent/${hash}/status_panel_token`)).toEqual({ token: 'token-value-one', deployment_hash: hash });
    expect(await vault.read(hash)).toBe('token-value-one');
  });

  it('reads undefined where nothing is stored (404), and removes every key', async () => {
    const vault = testVault();
    const hash = `deployment_${crypto.randomUUID()}`;
    expect(await vault.read(hash)).toBeUndefined();
    await vault.remove(hash); // nothing there: fine
    await vault.store(hash, 'to-be-removed');
    await vault.remove(hash);
    expect(await stored(`agent/${hash}/token`)).toBeUndefined();
    expect(await stored(`agent/${hash}/status_panel_token`)).toBeUndefined();
    expect(await vault.read(hash)).toBeUndefined();
  });

  it('uses the configured prefix and keys (vaultFromConfig)', async () => {
    const config = parseConfig({ ...env, VAULT_AGENT_PATH_PREFIX: 'secret/data/agents', VAULT_AGENT_TOKEN_KEYS: 'status_panel_token' });
    const hash = `deployment_${crypto.randomUUID()}`;
    await vaultFromConfig(config).store(hash, 'prefixed');
    expect(await stored(`secret/data/agents/${hash}/status_panel_token`)).toEqual({ token: 'prefixed', deployment_hash: hash });
    expect(await stored(`secret/data/agents/${hash}/token`)).toBeUndefined();
  });

  it('vaultFromConfig names a missing VAULT_ADDRESS or VAULT_TOKEN', () => {
    expect(() => vaultFromConfig(parseConfig({ VAULT_TOKEN: 'x' }))).toThrow('VAULT_ADDRESS is not set');
    expect(() => vaultFromConfig(parseConfig({ VAULT_ADDRESS: 'http://127.0.0.1:8200' }))).toThrow('VAULT_TOKEN is not set');
  });

  it('a 5xx, a refused token, no answer and no server are VaultUnavailableError naming Vault, never the token', async () => {
    const secret = 'super-secret-agent-token-0123456789abcdef';
    const cases = [
      { vault: testVault({ address: `${vaultStubUrl}/__down` }), text: /Vault answered HTTP 503/ },
      { vault: testVault({ vaultToken: 'hvs.wrong' }), text: /Vault refused write .* \(HTTP 403\)/ },
      { vault: testVault({ address: `${vaultStubUrl}/__slow/3000`, timeoutMs: 200 }), text: /Vault did not answer write .* within 200 ms/ },
      { vault: testVault({ address: 'http://127.0.0.1:1' }), text: /Vault is unreachable/ },
    ];
    for (const { vault, text } of cases) {
      const error = await rejection(vault.store(`deployment_${crypto.randomUUID()}`, secret));
      expect(error).toBeInstanceOf(VaultUnavailableError);
      expect(error.message).toMatch(text);
      expect(error.message).not.toContain(secret);
      expect(error.message).not.toContain(env.VAULT_TOKEN);
      expect(JSON.stringify(error)).not.toContain(secret);
      expect((error as { cause?: unknown }).cause).toBeUndefined();
    }
    const readError = await rejection(testVault({ address: `${vaultStubUrl}/__down` }).read('deployment_x'));
    expect(readError).toBeInstanceOf(VaultUnavailableError);
  });
});

describe('POST /admin/agent/{deployment_hash}/rotate-token', () => {
  it('issues a new token: both authenticate until the grace period ends, then only the new one', async () => {
    const agent = await createAgent();
    const before = Date.now();
    const response = await rotate(agent.deploymentHash);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Rotated;
    expect(body.message).toBe('Agent token rotated');
    expect(Object.keys(body.item).sort()).toEqual(['agent_token', 'deployment_hash', 'previous_token_valid_until']);
    expect(body.item.deployment_hash).toBe(agent.deploymentHash);
    expect(body.item.agent_token).toMatch(/^[A-Za-z0-9_-]{64}$/);
    expect(body.item.agent_token).not.toBe(agent.token);
    const validUntil = Date.parse(body.item.previous_token_valid_until);
    expect(validUntil).toBeGreaterThan(before + 9 * 60_000);
    expect(validUntil).toBeLessThan(Date.now() + 11 * 60_000);

    const newCredentials = { agentId: agent.agentId, token: body.item.agent_token };
    expect((await whoami(agentHeaders(agent))).status).toBe(200);
    expect((await whoami(agentHeaders(newCredentials))).status).toBe(200);

    const row = await agentRow(agent.agentId);
    expect(row.token_hash).toBe(await sha256Hex(body.item.agent_token));
    expect(row.previous_token_hash).toBe(await sha256Hex(agent.token));
    expect(row.token_rotated_at).not.toBeNull();
    expect(JSON.stringify(row)).not.toContain(body.item.agent_token);

    await withDatabase((db) => db.execute(sql`update agents set previous_token_expires_at = now() - interval '1 second' where id = ${agent.agentId}`));
    expect((await whoami(agentHeaders(agent))).status).toBe(401);
    expect((await whoami(agentHeaders(newCredentials))).status).toBe(200);
  });

  it('grace_seconds 0 revokes the old token from the next request on, on every route, also the wait the deployment\'s object vouched for', async () => {
    const agent = await createAgent();
    const waitPath = `/api/v1/agent/commands/wait/${agent.deploymentHash}?timeout=1`;
    // The old token waits once, so the deployment's Durable Object vouches for it without Postgres.
    expect((await api(waitPath, { headers: agentHeaders(agent) })).status).toBe(200);
    const response = await rotate(agent.deploymentHash, { body: { grace_seconds: 0 } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Rotated;
    expect(body.message).toBe('Agent token rotated; the previous token is refused from now on');
    expect(Date.parse(body.item.previous_token_valid_until)).toBeLessThanOrEqual(Date.now());
    const oldWait = await api(waitPath, { headers: agentHeaders(agent) });
    expect(oldWait.status).toBe(401);
    expect((await whoami(agentHeaders(agent))).status).toBe(401);
    const newCredentials = { agentId: agent.agentId, token: body.item.agent_token };
    expect((await api(waitPath, { headers: agentHeaders(newCredentials) })).status).toBe(200);
    expect((await whoami(agentHeaders(newCredentials))).status).toBe(200);
    const row = await agentRow(agent.agentId);
    expect(row.token_hash).toBe(await sha256Hex(body.item.agent_token));
    expect(row.previous_token_hash).toBeNull();
  });

  it('grace_seconds sets how long the old token keeps working (default 600)', async () => {
    const agent = await createAgent();
    const before = Date.now();
    const body = (await (await rotate(agent.deploymentHash, { body: { grace_seconds: 120 } })).json()) as Rotated;
    const validUntil = Date.parse(body.item.previous_token_valid_until);
    expect(validUntil).toBeGreaterThanOrEqual(before + 119_000);
    expect(validUntil).toBeLessThanOrEqual(Date.now() + 121_000);
    expect((await whoami(agentHeaders(agent))).status).toBe(200);
    const byDefault = (await (await rotate(agent.deploymentHash, { body: {} })).json()) as Rotated;
    expect(Date.parse(byDefault.item.previous_token_valid_until)).toBeGreaterThanOrEqual(before + 599_000);
  });

  it('refuses a grace_seconds outside 0..3600 or not a whole number, naming it, and changes nothing', async () => {
    const agent = await createAgent();
    const before = await agentRow(agent.agentId);
    for (const grace of [-1, 3601, 1.5, '60', null]) {
      const response = await rotate(agent.deploymentHash, { body: { grace_seconds: grace } });
      expect(response.status, JSON.stringify(grace)).toBe(400);
      const answer = (await response.json()) as { errors: Array<{ path: string }> };
      expect(answer.errors.map((error) => error.path)).toEqual(['body.grace_seconds']);
    }
    expect(await agentRow(agent.agentId)).toEqual(before);
  });

  it('stores the new token in Vault under both keys (token, status_panel_token)', async () => {
    const agent = await createAgent();
    const body = (await (await rotate(agent.deploymentHash)).json()) as Rotated;
    const expected = { token: body.item.agent_token, deployment_hash: agent.deploymentHash };
    expect(await stored(`agent/${agent.deploymentHash}/token`)).toEqual(expected);
    expect(await stored(`agent/${agent.deploymentHash}/status_panel_token`)).toEqual(expected);
  });

  it('sets the token given in the body', async () => {
    const agent = await createAgent();
    const chosen = `chosen_${crypto.randomUUID().replace(/-/g, '')}`;
    const response = await rotate(agent.deploymentHash, { body: { new_token: chosen } });
    expect(response.status).toBe(200);
    expect(((await response.json()) as Rotated).item.agent_token).toBe(chosen);
    expect((await whoami(agentHeaders({ agentId: agent.agentId, token: chosen }))).status).toBe(200);
    expect(await stored(`agent/${agent.deploymentHash}/status_panel_token`)).toEqual({ token: chosen, deployment_hash: agent.deploymentHash });
  });

  it('refuses bad input with 400 and changes nothing', async () => {
    const agent = await createAgent();
    const before = await agentRow(agent.agentId);
    const bad: unknown[] = [
      { new_token: 'short' },
      { new_token: 'x'.repeat(257) },
      { new_token: `${'a'.repeat(40)}!` },
      { new_token: `${'a'.repeat(40)} ` },
      { new_token: 12345678901234567890 },
      { new_token: null },
      [],
      'token',
    ];
    for (const body of bad) {
      const response = await rotate(agent.deploymentHash, { body });
      expect(response.status, JSON.stringify(body)).toBe(400);
      const answer = (await response.json()) as { message: string };
      expect(answer.message).toMatch(/^Invalid request body/);
    }
    const malformed = await apiWith({}, `/admin/agent/${agent.deploymentHash}/rotate-token`, {
      method: 'POST',
      headers: { ...admin(), 'content-type': 'application/json' },
      body: '{"new_token":',
    });
    expect(malformed.status).toBe(400);
    const badHash = await rotate('bad%20hash%24');
    expect(badHash.status).toBe(400);
    expect(await agentRow(agent.agentId)).toEqual(before);
  });

  it('answers 404 for a deployment without an agent', async () => {
    const response = await rotate(`deployment_${crypto.randomUUID()}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ message: 'Agent not found' });
  });

  it('Vault down: 503, the database unchanged, the old token still the only one', async () => {
    const agent = await createAgent();
    const before = await agentRow(agent.agentId);
    for (const address of [`${vaultStubUrl}/__down`, 'http://127.0.0.1:1']) {
      const response = await rotate(agent.deploymentHash, { bindings: { ...env, VAULT_ADDRESS: address } });
      expect(response.status).toBe(503);
      const body = (await response.json()) as { message: string };
      expect(body.message).toMatch(/^Vault is unavailable/);
      expect(JSON.stringify(body)).not.toContain(env.VAULT_TOKEN);
    }
    expect(await agentRow(agent.agentId)).toEqual(before);
    expect((await whoami(agentHeaders(agent))).status).toBe(200);
    expect(await stored(`agent/${agent.deploymentHash}/token`)).toBeUndefined();
  });

  it('Vault not configured: 503 naming the setting', async () => {
    const agent = await createAgent();
    const response = await rotate(agent.deploymentHash, { bindings: { ...env, VAULT_ADDRESS: '' } });
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toBe('Service is not configured: VAULT_ADDRESS is not set');
  });

  it('is for admins only: users, API clients and agents 403, anonymous 401', async () => {
    const agent = await createAgent();
    const before = await agentRow(agent.agentId);
    const apiClient = await createApiClientFor();
    const callers: Array<[string, Record<string, string>, number]> = [
      ['group_user', bearerFor('group_user', uniqueId('u')), 403],
      ['user', bearerFor('user', uniqueId('u')), 403],
      ['client', await hmacHeaders(apiClient, 'POST', `/admin/agent/${agent.deploymentHash}/rotate-token`), 403],
      ['agent', agentHeaders(agent), 403],
      ['anonymous', {}, 401],
    ];
    for (const [who, headers, status] of callers) {
      const response = await rotate(agent.deploymentHash, { headers });
      expect(response.status, who).toBe(status);
    }
    expect(await agentRow(agent.agentId)).toEqual(before);
  });

  it('with AGENT_BASE_URL, tells the agent its new token in a request signed with the old one', async () => {
    const agent = await createAgent();
    await testVault().store(agent.deploymentHash, agent.token); // as registration leaves it
    const stub = await addStubAgent(agent);
    const response = await rotate(agent.deploymentHash, { bindings: { ...env, AGENT_BASE_URL: stub.baseUrl } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Rotated;
    expect(body.message).toBe('Agent token rotated; the agent was told its new token');
    const state = await stub.state();
    expect(state.token).toBe(body.item.agent_token);
    expect(state.accepted).toHaveLength(1);
    expect(state.accepted[0]!.path).toBe('/api/v1/auth/rotate-token');
    expect(state.accepted[0]!.json).toEqual({ new_token: body.item.agent_token });
  });

  it('with AGENT_BASE_URL, an agent that cannot be reached does not stop the rotation', async () => {
    const agent = await createAgent();
    await testVault().store(agent.deploymentHash, agent.token);
    const response = await rotate(agent.deploymentHash, { bindings: { ...env, AGENT_BASE_URL: 'http://127.0.0.1:1' } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as Rotated;
    expect(body.message).toBe('Agent token rotated');
    expect((await whoami(agentHeaders({ agentId: agent.agentId, token: body.item.agent_token }))).status).toBe(200);
  });

  it('is served through the Worker and listed in the OpenAPI document', async () => {
    const agent = await createAgent();
    expect((await api(`/admin/agent/${agent.deploymentHash}/rotate-token`, { method: 'POST', headers: admin() })).status).toBe(200);
    const document = (await (await api('/openapi.json')).json()) as { paths: Record<string, unknown> };
    expect(document.paths['/admin/agent/{deployment_hash}/rotate-token']).toBeDefined();
  });
});

async function addStubAgent(agent: TestAgent) {
  const response = await fetch(`${agentStubUrl}/__agents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agent_id: agent.agentId, token: agent.token }),
  });
  const { id, base_url } = (await response.json()) as { id: string; base_url: string };
  return {
    baseUrl: base_url,
    state: async () =>
      (await (await fetch(`${agentStubUrl}/__agents/${id}`)).json()) as { token: string; accepted: Array<{ path: string; json: unknown }> },
  };
}
