import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { apiWith } from '../helpers/api.ts';
import { sha256Hex } from '../../functions/services/crypto.ts';
import { AgentSimulator } from '../helpers/agent-simulator.ts';
import { api, bearerFor, createApiClientFor, createDeployment, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

const registration = (deploymentHash: string) => ({
  deployment_hash: deploymentHash,
  agent_version: '0.2.1',
  capabilities: ['status_panel', 'monitoring', 'docker', 'compose', 'logs', 'restart'],
  system_info: { hostname: 'srv-1', os: 'linux', cpu_count: 2 },
  public_key: null,
});

interface Registered {
  message: string;
  item: { agent_id: string; agent_token: string; deployment_hash: string; reissued: boolean };
  data: { item: { agent_id: string; agent_token: string } };
}

async function vaultEntry(hash: string, key: string) {
  const response = await fetch(`${inject('vaultStubUrl')}/__stored?path=${encodeURIComponent(`${env.VAULT_AGENT_PATH_PREFIX ?? 'agent'}/${hash}/${key}`)}`);
  return response.status === 200 ? ((await response.json()) as { data: { token: string; deployment_hash: string } }).data : undefined;
}

describe('POST /api/v1/agent/register', () => {
  it('registers once anonymously: 201 with item and data.item; the token goes to Vault under both keys, the database keeps its hash', async () => {
    const deployment = await createDeployment();
    const response = await api('/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash)));
    expect(response.status).toBe(201);
    const body = (await response.json()) as Registered;
    expect(body.item).toMatchObject({ deployment_hash: deployment.deploymentHash, reissued: false });
    expect(body.data.item).toEqual(body.item);
    expect(body.item.agent_token.length).toBeGreaterThanOrEqual(43);

    for (const key of ['token', 'status_panel_token']) {
      expect(await vaultEntry(deployment.deploymentHash, key)).toMatchObject({ token: body.item.agent_token, deployment_hash: deployment.deploymentHash });
    }
    const row = await withDatabase(async (db) => (await db.execute<Record<string, unknown>>(sql`select * from agents where id = ${body.item.agent_id}`)).rows[0]!);
    expect(row.token_hash).toBe(await sha256Hex(body.item.agent_token));
    expect(JSON.stringify(row)).not.toContain(body.item.agent_token);
    expect(row).toMatchObject({ version: '0.2.1', status: 'offline' });

    // The new agent can poll at once.
    const sim = new AgentSimulator({ agentId: body.item.agent_id, token: body.item.agent_token, deploymentHash: deployment.deploymentHash });
    expect((await sim.wait(1)).status).toBe(200);
  });

  it('a second anonymous registration is 409; the owner, an admin or the owner’s API client re-issue the token', async () => {
    const deployment = await createDeployment();
    const first = (await (await api('/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash)))).json()) as Registered;
    const again = await api('/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash)));
    expect(again.status).toBe(409);

    const byOwner = await api('/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash), bearerFor('group_user', deployment.ownerId)));
    expect(byOwner.status).toBe(201);
    const reissued = (await byOwner.json()) as Registered;
    expect(reissued.item).toMatchObject({ agent_id: first.item.agent_id, reissued: true });
    expect(reissued.item.agent_token).not.toBe(first.item.agent_token);
    expect((await vaultEntry(deployment.deploymentHash, 'token'))?.token).toBe(reissued.item.agent_token);

    // Both tokens work during the grace period.
    for (const token of [first.item.agent_token, reissued.item.agent_token]) {
      const sim = new AgentSimulator({ agentId: first.item.agent_id, token, deploymentHash: deployment.deploymentHash });
      expect((await sim.wait(1)).status).toBe(200);
    }

    const text = JSON.stringify(registration(deployment.deploymentHash));
    const apiClient = await createApiClientFor(deployment.ownerId);
    const byClient = await api('/api/v1/agent/register', { method: 'POST', headers: { ...(await hmacHeaders(apiClient, 'POST', '/api/v1/agent/register', text)), 'content-type': 'application/json' }, body: text });
    expect(byClient.status).toBe(201);
    expect((await api('/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash), bearerFor('group_admin', uniqueId('adm'))))).status).toBe(201);
    const stranger = await api('/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash), bearerFor('group_user', uniqueId('str'))));
    expect(stranger.status).toBe(404);
  });

  it('refuses an unknown deployment (404) and bad bodies (400 naming the field)', async () => {
    expect((await api('/api/v1/agent/register', jsonRequest('POST', registration('deployment_nothing_here')))).status).toBe(404);
    const deployment = await createDeployment();
    const base = registration(deployment.deploymentHash);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ ...base, deployment_hash: undefined }, 'body.deployment_hash'],
      [{ ...base, capabilities: 'docker' }, 'body.capabilities'],
      [{ ...base, agent_version: 'x'.repeat(51) }, 'body.agent_version'],
      [{ ...base, deployment_hash: 'x'.repeat(65) }, 'body.deployment_hash'],
    ];
    for (const [body, path] of cases) {
      const response = await api('/api/v1/agent/register', jsonRequest('POST', body));
      expect(response.status, path).toBe(400);
      expect(((await response.json()) as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toContain(path);
    }
  });

  it('Vault down: 503 and no agent row left behind', async () => {
    const deployment = await createDeployment();
    const response = await apiWith({ VAULT_ADDRESS: `${inject('vaultStubUrl')}/__down` }, '/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash)));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { message: string }).message).toMatch(/Vault/);
    const rows = await withDatabase(async (db) => (await db.execute(sql`select id from agents where deployment_hash = ${deployment.deploymentHash}`)).rows);
    expect(rows).toEqual([]);
    // and it can register once Vault is back
    expect((await api('/api/v1/agent/register', jsonRequest('POST', registration(deployment.deploymentHash)))).status).toBe(201);
  });
});
