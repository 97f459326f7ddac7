// The isolated database of the hostile-input suite: real rows created through the API (so path
// parameters can name rows that exist), and a fingerprint of every table to prove nothing changed.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { inject } from 'vitest';
import { RequestDatabase, type Database } from '../../../db/client.ts';
import { apiWith, jsonRequest } from '../api.ts';
import { bearerFor } from '../auth.ts';
import { doorbellStub } from '../../../functions/services/agent-gate.ts';
import { deployBodies, projectForms } from '../fixtures.ts';

export const isolated = () => ({ DATABASE_URL: inject('isolatedDatabaseUrl') });

/** Runs `work` with a connection of its own to the isolated database, then closes it. */
export async function withIsolatedDatabase<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const database = new RequestDatabase({ url: inject('isolatedDatabaseUrl'), wsProxy: env.DATABASE_WS_PROXY as string });
  try {
    return await work(database.db);
  } finally {
    await database.close();
  }
}

export interface Seeded {
  userId: string;
  adminId: string;
  projectId: number;
  cloudId: number;
  serverId: number;
  deploymentId: number;
  deploymentHash: string;
  commandId: string;
  ratingId: number;
  agreementId: number;
  client: { id: number; secret: string };
  disabledClient: { id: number; secret: string };
  agent: { agentId: string; token: string; deploymentHash: string };
}

async function callAt<T>(expected: number, path: string, init?: RequestInit, target: Record<string, unknown> = isolated()): Promise<T> {
  const response = await apiWith(target, path, init);
  const text = await response.text();
  if (response.status !== expected) throw new Error(`seeding: ${init?.method ?? 'GET'} ${path} answered ${response.status}: ${text}`);
  return JSON.parse(text) as T;
}

/**
 * One of everything, owned by one user, created the way users and agents create them: in the isolated
 * database, or where `target` (settings for apiWith, {} for the suite's database) points, as `owner` and `adminName`.
 */
export async function seedThroughApi(target: Record<string, unknown> = isolated(), owner = 'hostileowner', adminName = 'hostileadmin'): Promise<Seeded> {
  const call = <T>(expected: number, path: string, init?: RequestInit) => callAt<T>(expected, path, init, target);
  const userId = owner;
  const adminId = adminName;
  const user = bearerFor('group_user', userId);
  const admin = bearerFor('group_admin', adminId);

  const project = await call<{ item: { id: number } }>(201, '/project', jsonRequest('POST', projectForms[2]!.body, user));
  const cloud = await call<{ item: { id: number } }>(
    201,
    '/cloud',
    jsonRequest('POST', { provider: 'htz', cloud_token: 'hostile-suite-cloud-token-0123456789', save_token: true }, user),
  );
  const deployBody = { ...deployBodies.deploy2, cloud: { provider: 'htz', cloud_token: 'hostile-suite-cloud-token-0123456789', save_token: false } };
  const started = await call<{ item: { deployment_id: number; deployment_hash: string } }>(
    202,
    `/project/${project.item.id}/deploy`,
    jsonRequest('POST', deployBody, user),
  );
  const deploymentHash = started.item.deployment_hash;
  const servers = await call<{ list: Array<{ id: number }> }>(200, '/server', { headers: user });

  const registered = await call<{ item: { agent_id: string; agent_token: string } }>(
    201,
    '/api/v1/agent/register',
    jsonRequest('POST', { deployment_hash: deploymentHash, agent_version: '0.2.1', capabilities: ['docker', 'compose'], system_info: { os: 'linux' } }),
  );
  const command = await call<{ item: { command_id: string } }>(
    201,
    '/api/v1/commands',
    jsonRequest('POST', { deployment_hash: deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, user),
  );
  const client = await call<{ item: { id: number; secret: string } }>(201, '/client', { method: 'POST', headers: user });
  const disabledClient = await call<{ item: { id: number; secret: string } }>(201, '/client', { method: 'POST', headers: user });
  await call(200, `/client/${disabledClient.item.id}/disable`, { method: 'PUT', headers: user });
  const rating = await call<{ item: { id: number } }>(201, '/rating', jsonRequest('POST', { obj_id: 1, category: 'Application', rate: 7, comment: 'Fine' }, user));
  const agreement = await call<{ item: { id: number } }>(201, '/admin/agreement', jsonRequest('POST', { name: 'Hostile terms', text: 'Be nice.' }, admin));
  await call(201, '/agreement', jsonRequest('POST', { agrt_id: agreement.item.id }, user));

  const serverId = servers.list[0]?.id;
  if (serverId === undefined) throw new Error('seeding: the deployment created no server');
  return {
    userId,
    adminId,
    projectId: project.item.id,
    cloudId: cloud.item.id,
    serverId,
    deploymentId: started.item.deployment_id,
    deploymentHash,
    commandId: command.item.command_id,
    ratingId: rating.item.id,
    agreementId: agreement.item.id,
    client: client.item,
    disabledClient: disabledClient.item,
    agent: { agentId: registered.item.agent_id, token: registered.item.agent_token, deploymentHash },
  };
}

/**
 * Rows that legitimately appear while refused requests are sent, by table: a where-clause that
 * leaves them out of the fingerprint. Only these; everything else must stay exactly as it was.
 */
export const EXPECTED_CHANGES: Record<string, string> = {
  // A correctly signed agent request records its X-Request-Id before the route validates the
  // request (replay protection must hold whatever the route answers). The suite gives exactly those
  // requests ids starting with this prefix; ids of badly signed requests must never be recorded.
  agent_request_id: "request_id not like 'hostile-signed-%'",
  // Likewise a correctly signed API-client request spends its nonce before the route validates it.
  api_client_nonce: "nonce not like 'hostilesigned%'",
};

/** md5 of every row of every table of the public schema, by table name. */
export async function fingerprintTables(): Promise<Record<string, string>> {
  return withIsolatedDatabase(async (db) => {
    const tables = await db.execute<{ name: string }>(sql`select tablename as name from pg_tables where schemaname = 'public' order by tablename`);
    const result: Record<string, string> = {};
    for (const { name } of tables.rows) {
      const where = EXPECTED_CHANGES[name] ? sql.raw(`where ${EXPECTED_CHANGES[name]}`) : sql``;
      const row = await db.execute<{ fingerprint: string; count: number }>(
        sql`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as fingerprint, count(*)::int as count from ${sql.identifier(name)} t ${where}`,
      );
      result[name] = `${row.rows[0]!.count} rows, md5 ${row.rows[0]!.fingerprint}`;
    }
    return result;
  });
}

/** How many X-Request-Ids of correctly signed hostile requests were recorded. */
/**
 * The hostile suite's signed request ids remembered: in agent_request_id, and for the wait route in
 * the deployment's Durable Object (which keeps them there, so an idle poll runs no query).
 */
export async function recordedSignedRequestIds(deploymentHash?: string): Promise<number> {
  const inDatabase = await withIsolatedDatabase(async (db) => {
    const result = await db.execute<{ count: number }>(sql`select count(*)::int as count from agent_request_id where request_id like 'hostile-signed-%'`);
    return result.rows[0]!.count;
  });
  const inObject = deploymentHash === undefined ? 0 : await doorbellStub(env.DEPLOYMENT_DOORBELL, deploymentHash).countRequestIds('hostile-signed-');
  return inDatabase + inObject;
}
