import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, it } from 'vitest';
import { sha256Hex } from '../../functions/services/crypto.ts';
import { agentHeaders, api, createAgent, type TestAgent } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

let agent: TestAgent;
beforeAll(async () => {
  agent = await createAgent();
});

// GET /health_check is open to agents too: a 200 here means the agent was authenticated.
const probe = (headers: Record<string, string>) => api('/health_check', { headers });

async function message(response: Response): Promise<string> {
  return ((await response.json()) as { message: string }).message;
}

describe('agent authentication', () => {
  it('accepts the right token', async () => {
    expect((await probe(agentHeaders(agent))).status).toBe(200);
  });

  it('refuses a wrong token with 401', async () => {
    const response = await probe(agentHeaders({ agentId: agent.agentId, token: `${agent.token}x` }));
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid agent credentials');
  });

  it('refuses an unknown agent with 401', async () => {
    const response = await probe(agentHeaders({ agentId: crypto.randomUUID(), token: agent.token }));
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('Invalid agent credentials');
  });

  it('refuses a malformed X-Agent-Id with 401', async () => {
    const response = await probe({ 'x-agent-id': 'not-a-uuid', authorization: `Bearer ${agent.token}` });
    expect(response.status).toBe(401);
    expect(await message(response)).toBe('X-Agent-Id must be a UUID');
  });

  it('refuses a missing or malformed Authorization header with 401', async () => {
    const missing = await probe({ 'x-agent-id': agent.agentId });
    expect(missing.status).toBe(401);
    expect(await message(missing)).toBe('Authorization header required for agent');
    const basic = await probe({ 'x-agent-id': agent.agentId, authorization: `Basic ${agent.token}` });
    expect(basic.status).toBe(401);
  });

  it('accepts the previous token only during its grace period', async () => {
    const rotated = await createAgent();
    const newToken = 'new-token-after-rotation-0123456789';
    const newHash = await sha256Hex(newToken);
    await withDatabase((db) =>
      db.execute(sql`update agents set previous_token_hash = token_hash, previous_token_expires_at = now() + interval '5 minutes',
        token_hash = ${newHash} where id = ${rotated.agentId}`),
    );
    expect((await probe(agentHeaders(rotated))).status).toBe(200);
    expect((await probe(agentHeaders({ agentId: rotated.agentId, token: newToken }))).status).toBe(200);

    await withDatabase((db) => db.execute(sql`update agents set previous_token_expires_at = now() - interval '1 second' where id = ${rotated.agentId}`));
    expect((await probe(agentHeaders(rotated))).status).toBe(401);
  });

  it('keeps only a hash of the token in the database', async () => {
    const row = await withDatabase(async (db) => {
      const result = await db.execute<Record<string, unknown>>(sql`select * from agents where id = ${agent.agentId}`);
      return result.rows[0]!;
    });
    expect(JSON.stringify(row)).not.toContain(agent.token);
    expect(row.token_hash).toBe(await sha256Hex(agent.token));
  });
});

describe('GET /whoami', () => {
  it('names each kind of caller', async () => {
    const { bearerFor, createApiClientFor, hmacHeaders } = await import('../helpers/auth.ts');
    const anonymous = await (await api('/whoami')).json();
    expect(anonymous).toEqual({ message: 'OK', item: { kind: 'anonymous', subject: 'anonym' } });
    const user = await (await api('/whoami', { headers: bearerFor('user', 'who1') })).json();
    expect(user).toEqual({ message: 'OK', item: { kind: 'user', subject: 'user', user_id: 'who1' } });
    const apiClient = await createApiClientFor('who2');
    const viaClient = await (await api('/whoami', { headers: await hmacHeaders(apiClient, 'GET', '/whoami') })).json();
    expect(viaClient).toEqual({ message: 'OK', item: { kind: 'client', subject: 'client', user_id: 'who2', client_id: apiClient.id } });
    const viaAgent = await (await api('/whoami', { headers: agentHeaders(agent) })).json();
    expect(viaAgent).toEqual({ message: 'OK', item: { kind: 'agent', subject: 'agent', agent_id: agent.agentId, deployment_hash: agent.deploymentHash } });
  });
});
