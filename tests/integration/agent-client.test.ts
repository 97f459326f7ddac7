// Stacker → agent: AgentClient and the dispatcher calls, against tests/stubs/agent.ts, which verifies
// requests the way the real agent's local API does (agent-protocol.md §2.8).
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { env } from 'cloudflare:test';
import {
  AgentClient,
  agentClientFor,
  AgentRequestError,
  enqueue,
  execute,
  report,
  rotateToken,
  toAgentCommand,
} from '../../functions/services/agent-client.ts';
import { randomToken } from '../../functions/services/crypto.ts';
import { kvAgentTokenVault } from '../../functions/services/vault-kv.ts';

const agentStubUrl = inject('agentStubUrl');
const vaultStubUrl = inject('vaultStubUrl');

interface Recorded {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
  json: unknown;
}

interface StubState {
  agent_id: string;
  token: string;
  accepted: Recorded[];
  refused: Array<{ path: string; status: number; error: string }>;
}

async function stubAgent(options: { rate_limit_per_min?: number; scopes?: string[] } = {}) {
  const agentId = crypto.randomUUID();
  const token = randomToken(48);
  const response = await fetch(`${agentStubUrl}/__agents`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ agent_id: agentId, token, ...options }),
  });
  const { id, base_url } = (await response.json()) as { id: string; base_url: string };
  return {
    agentId,
    token,
    baseUrl: base_url,
    state: async () => (await (await fetch(`${agentStubUrl}/__agents/${id}`)).json()) as StubState,
  };
}

async function rejection(promise: Promise<unknown>): Promise<AgentRequestError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(AgentRequestError);
    return error as AgentRequestError;
  }
  throw new Error('expected a rejection');
}

async function base64Hmac(key: string, body: string): Promise<string> {
  const cryptoKey = await crypto.subtle.importKey('raw', new TextEncoder().encode(key), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const mac = new Uint8Array(await crypto.subtle.sign('HMAC', cryptoKey, new TextEncoder().encode(body)));
  return btoa(String.fromCharCode(...mac));
}

const command = (overrides: Record<string, unknown> = {}) => ({
  command_id: `cmd_${crypto.randomUUID()}`,
  type: 'health',
  parameters: { app_code: 'web', include_metrics: true },
  deployment_hash: `deployment_${crypto.randomUUID()}`,
  ...overrides,
});

describe('AgentClient against the agent local API', () => {
  it('enqueue: the HEAD agent Command body, signed as the agent verifies it', async () => {
    const agent = await stubAgent();
    // A trailing "/" on AGENT_BASE_URL is dropped (the reference's `//api/...` bug, §3 row 17).
    const client = new AgentClient({ baseUrl: `${agent.baseUrl}/`, agentId: agent.agentId, token: agent.token });
    const sent = command();
    const before = Math.floor(Date.now() / 1000);
    expect(await enqueue(client, sent)).toEqual({ queued: true });

    const [request] = (await agent.state()).accepted;
    expect(request!.method).toBe('POST');
    expect(request!.path).toBe('/api/v1/commands/enqueue');
    expect(request!.json).toEqual({
      id: sent.command_id,
      command_id: sent.command_id,
      name: 'health',
      params: { app_code: 'web', include_metrics: true },
      deployment_hash: sent.deployment_hash,
      app_code: 'web',
    });
    const headers = request!.headers;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-agent-id']).toBe(agent.agentId);
    expect(Number(headers['x-timestamp'])).toBeGreaterThanOrEqual(before);
    expect(Number(headers['x-timestamp'])).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
    expect(headers['x-request-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(headers['x-agent-signature']).toHaveLength(44);
    expect(headers['x-agent-signature']).toBe(await base64Hmac(agent.token, request!.body));
    expect(headers.authorization).toBeUndefined();
  });

  it('absent or null parameters reach the agent as params {} (and no app_code)', async () => {
    const agent = await stubAgent();
    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: agent.token });
    const withNull = command({ type: 'stop', parameters: null });
    const without = command({ type: 'list_containers', parameters: undefined });
    expect(toAgentCommand(withNull)).toEqual({ id: withNull.command_id, command_id: withNull.command_id, name: 'stop', params: {}, deployment_hash: withNull.deployment_hash });
    await enqueue(client, withNull);
    await enqueue(client, without);
    const accepted = (await agent.state()).accepted;
    expect(accepted.map((r) => (r.json as { params: unknown }).params)).toEqual([{}, {}]);
    expect(accepted.every((r) => !('app_code' in (r.json as object)))).toBe(true);
  });

  it('execute: answers the agent CommandResult', async () => {
    const agent = await stubAgent();
    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: agent.token });
    const sent = command({ type: 'uname', parameters: {} });
    const result = await execute(client, sent);
    expect(result.command_id).toBe(sent.command_id);
    expect(result.status).toBe('success');
    expect(result.completed_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect((await agent.state()).accepted[0]!.path).toBe('/api/v1/commands/execute');
  });

  it('report: a CommandResult with completed_at (RFC 3339, whole seconds)', async () => {
    const agent = await stubAgent();
    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: agent.token });
    expect(await report(client, { command_id: 'cmd_1', status: 'success', result: { ok: true }, completed_at: new Date('2026-07-13T12:00:00.456Z') })).toEqual({ accepted: true });
    expect(await report(client, { command_id: 'cmd_2', status: 'failed', error: 'boom' })).toEqual({ accepted: true });
    const [first, second] = (await agent.state()).accepted;
    expect(first!.path).toBe('/api/v1/commands/report');
    expect(first!.json).toEqual({ command_id: 'cmd_1', status: 'success', result: { ok: true }, error: null, completed_at: '2026-07-13T12:00:00Z' });
    expect(second!.json).toMatchObject({ command_id: 'cmd_2', status: 'failed', error: 'boom' });
    expect((second!.json as { completed_at: string }).completed_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
  });

  it('rotateToken: {new_token}; afterwards the agent verifies with the new token only', async () => {
    const agent = await stubAgent();
    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: agent.token });
    const newToken = randomToken(48);
    expect(await rotateToken(client, newToken)).toEqual({ rotated: true });
    const state = await agent.state();
    expect(state.token).toBe(newToken);
    expect(state.accepted[0]!.json).toEqual({ new_token: newToken });

    const stale = await rejection(enqueue(client, command()));
    expect(stale.status).toBe(401);
    const rotated = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: newToken });
    expect(await enqueue(rotated, command())).toEqual({ queued: true });
  });

  it('a wrong token is refused: 401 signature mismatch, and the error names the status, never a token', async () => {
    const agent = await stubAgent();
    const wrongToken = randomToken(48);
    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: wrongToken });
    const error = await rejection(enqueue(client, command()));
    expect(error.status).toBe(401);
    expect(error.message).toBe('Agent answered 401 to POST /api/v1/commands/enqueue: invalid signature: signature mismatch');
    expect(error.message).not.toContain(wrongToken);
    expect(error.message).not.toContain(agent.token);
    expect((await agent.state()).accepted).toEqual([]);
  });

  it('a wrong agent id is refused: 401 Invalid or missing X-Agent-Id', async () => {
    const agent = await stubAgent();
    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: crypto.randomUUID(), token: agent.token });
    const error = await rejection(report(client, { command_id: 'cmd_1', status: 'success' }));
    expect(error.status).toBe(401);
    expect(error.message).toContain('Invalid or missing X-Agent-Id');
  });

  it('the same request id twice is a replay (409); the client sends a fresh one every time', async () => {
    const agent = await stubAgent();
    const body = JSON.stringify({ command_id: 'cmd_1', status: 'success', error: null, completed_at: '2026-07-13T12:00:00Z' });
    const headers = {
      'content-type': 'application/json',
      'x-agent-id': agent.agentId,
      'x-timestamp': String(Math.floor(Date.now() / 1000)),
      'x-request-id': crypto.randomUUID(),
      'x-agent-signature': await base64Hmac(agent.token, body),
    };
    const url = `${agent.baseUrl}/api/v1/commands/report`;
    expect((await fetch(url, { method: 'POST', headers, body })).status).toBe(200);
    const replay = await fetch(url, { method: 'POST', headers, body });
    expect(replay.status).toBe(409);
    expect(await replay.json()).toEqual({ error: 'replay detected' });

    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: agent.token });
    const same = command();
    for (let i = 0; i < 5; i++) await enqueue(client, same); // identical bodies, all accepted
    const ids = (await agent.state()).accepted.map((request) => request.headers['x-request-id']);
    expect(ids).toHaveLength(6);
    expect(new Set(ids).size).toBe(6);
  });

  it('the stub applies the rest of the agent checks: skew, encoding, rate limit, scope, body shape', async () => {
    const agent = await stubAgent({ rate_limit_per_min: 5, scopes: ['commands:enqueue'] });
    const url = (path: string) => `${agent.baseUrl}${path}`;
    const send = async (path: string, body: string, overrides: Record<string, string> = {}) => {
      const response = await fetch(url(path), {
        method: 'POST',
        body,
        headers: {
          'content-type': 'application/json',
          'x-agent-id': agent.agentId,
          'x-timestamp': String(Math.floor(Date.now() / 1000)),
          'x-request-id': crypto.randomUUID(),
          'x-agent-signature': await base64Hmac(agent.token, body),
          ...overrides,
        },
      });
      return [response.status, ((await response.json()) as { error: string }).error] as const;
    };
    const good = JSON.stringify(toAgentCommand(command()));
    expect(await send('/api/v1/commands/enqueue', good, { 'x-timestamp': String(Math.floor(Date.now() / 1000) - 310) })).toEqual([401, 'invalid signature: stale request (timestamp skew)']);
    expect(await send('/api/v1/commands/enqueue', good, { 'x-agent-signature': '%%%' })).toEqual([401, 'invalid signature: invalid signature encoding']);
    expect(await send('/api/v1/commands/execute', good)).toEqual([403, 'insufficient scope']);
    expect(await send('/api/v1/commands/enqueue', '{"name":"health"}')).toEqual([400, 'missing field `id`']);
    expect(await send('/api/v1/commands/enqueue', good)).toEqual([202, undefined]);
    expect(await send('/api/v1/commands/enqueue', good)).toEqual([429, 'rate limited']);

    const client = new AgentClient({ baseUrl: agent.baseUrl, agentId: agent.agentId, token: agent.token });
    const limited = await rejection(enqueue(client, command()));
    expect(limited.status).toBe(429);
    expect(limited.message).toBe('Agent answered 429 to POST /api/v1/commands/enqueue: rate limited');
  });

  it('no answer in time, or no agent at all, is an AgentRequestError without a status', async () => {
    const token = randomToken(48);
    // The Vault stub's slow path stands in for an agent that does not answer.
    const slow = new AgentClient({ baseUrl: `${vaultStubUrl}/__slow/3000`, agentId: crypto.randomUUID(), token, timeoutMs: 200 });
    const timedOut = await rejection(enqueue(slow, command()));
    expect(timedOut.status).toBeUndefined();
    expect(timedOut.message).toBe('Agent did not answer POST /api/v1/commands/enqueue within 200 ms');

    const nowhere = new AgentClient({ baseUrl: 'http://127.0.0.1:1', agentId: crypto.randomUUID(), token });
    const unreachable = await rejection(rotateToken(nowhere, randomToken(48)));
    expect(unreachable.status).toBeUndefined();
    expect(unreachable.message).toBe('Agent is unreachable for POST /api/v1/auth/rotate-token');
  });

  it('agentClientFor: none without AGENT_BASE_URL; otherwise keyed with the token Vault holds', async () => {
    const vault = kvAgentTokenVault({ address: env.VAULT_ADDRESS, vaultToken: env.VAULT_TOKEN, pathPrefix: 'agent', keys: ['token', 'status_panel_token'] });
    const agent = await stubAgent();
    const deploymentHash = `deployment_${crypto.randomUUID()}`;
    expect(await agentClientFor({ agentBaseUrl: undefined, vault }, { id: agent.agentId, deploymentHash })).toBeUndefined();
    const missing = await rejection(agentClientFor({ agentBaseUrl: agent.baseUrl, vault }, { id: agent.agentId, deploymentHash }));
    expect(missing.message).toBe(`No agent token in Vault for deployment_hash ${deploymentHash}`);

    await vault.store(deploymentHash, agent.token);
    const client = await agentClientFor({ agentBaseUrl: agent.baseUrl, vault }, { id: agent.agentId, deploymentHash });
    expect(await enqueue(client!, command({ deployment_hash: deploymentHash }))).toEqual({ queued: true });
  });
});
