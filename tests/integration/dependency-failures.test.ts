// What the service does when a dependency stops or breaks in the middle of the work (issue 7, point 2).
// docs/failure-modes.md lists every failure, what the service does, and the test that proves it; the
// failures other test files already cover are named there and not repeated here. The database
// connection cut in the middle of a request is swept in dependency-cuts*.test.ts (files of their own,
// so that the long sweeps run beside each other and beside this file).
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { isDatabaseUnavailable, RequestDatabase } from '../../db/client.ts';
import { runScheduledJobs } from '../../functions/cron.ts';
import { cachedEnforcer, invalidateRules, RULES_TTL_MS } from '../../functions/services/access-control.ts';
import { hmacSha256Hex } from '../../functions/services/crypto.ts';
import { directPublisher } from '../../functions/services/queue.ts';
import { api, jsonRequest } from '../helpers/api.ts';
import { agentHeaders, bearerFor, createAgent, createApiClientFor, createDeployment, hmacHeaders, signJwt, uniqueId, type TestAgent, type TestClient } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { deliveriesOf, installSignature } from '../helpers/deploy.ts';
import { apiWithOneApp, asUser, count, createProject, deployedProject, type ErrorBody, faultProxy, savedCloud, warmRules } from '../helpers/dependency-failures.ts';
import { deployBodies, fixtures, projectForms } from '../helpers/fixtures.ts';

const DATABASE_DOWN = { DATABASE_URL: 'postgres://postgres@127.0.0.1:9/nowhere' };

/** Runs `use` with a request database whose server is not there, closed afterwards. */
async function withDatabaseDown<T>(use: (db: RequestDatabase['db']) => Promise<T>): Promise<T> {
  const down = new RequestDatabase({ url: DATABASE_DOWN.DATABASE_URL, wsProxy: env.DATABASE_WS_PROXY as string });
  try {
    return await use(down.db);
  } finally {
    await down.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Requests built from the served OpenAPI document
// ---------------------------------------------------------------------------------------------

type Schema = Record<string, unknown>;
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}
interface Operation {
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: Schema; example?: unknown }>;
  requestBody?: { required?: boolean; content: Record<string, { schema: Schema }> };
}
interface Served {
  method: string;
  path: string;
  operation: Operation;
}

let document: OpenApiDocument;
let apiClient: TestClient;
let agent: TestAgent;

function resolve(schema: Schema): Schema {
  const ref = schema.$ref;
  if (typeof ref !== 'string') return schema;
  return resolve(document.components.schemas[ref.replace('#/components/schemas/', '')]!);
}

/** A value for a schema: its example (or default) where the document has one, else the simplest valid value. */
function exampleOf(raw: Schema): unknown {
  const schema = resolve(raw);
  if ('example' in schema) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if ('default' in schema) return schema.default;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  if ('const' in schema) return schema.const;
  const variants = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (variants) return exampleOf(variants.find((variant) => resolve(variant).type !== 'null') ?? variants[0]!);
  if (Array.isArray(schema.allOf)) return Object.assign({}, ...(schema.allOf as Schema[]).map((part) => exampleOf(part)));
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  switch (type) {
    case 'object': {
      const properties = (schema.properties ?? {}) as Record<string, Schema>;
      const required = new Set((schema.required ?? []) as string[]);
      // Required properties, and the optional ones the document gives an example for.
      const wanted = Object.entries(properties).filter(([name, property]) => required.has(name) || 'example' in resolve(property));
      return Object.fromEntries(wanted.map(([name, property]) => [name, exampleOf(property)]));
    }
    case 'array':
      return Array.from({ length: Number(schema.minItems ?? 0) }, () => exampleOf((schema.items ?? {}) as Schema));
    case 'integer':
    case 'number':
      return Number(schema.minimum ?? 1);
    case 'boolean':
      return false;
    case 'string':
      if (schema.format === 'date-time') return new Date().toISOString();
      if (schema.format === 'email') return 'someone@example.test';
      if (schema.format === 'uuid') return crypto.randomUUID();
      return 'x'.repeat(Math.max(1, Number(schema.minLength ?? 1)));
    default:
      return {};
  }
}

/**
 * Bodies the document's examples cannot make plausible on their own (a whole project form, a deploy
 * with its cloud): the reference payloads, or values that name this test's agent.
 */
function bodyOverride(method: string, path: string): unknown {
  const cloud = { provider: 'htz', cloud_token: 'token-for-the-down-test', save_token: false };
  switch (`${method} ${path}`) {
    case 'POST /project':
    case 'PUT /project/{id}':
      return projectForms[2]!.body;
    case 'POST /project/{id}/deploy':
      return { ...deployBodies.deploy2, cloud };
    case 'POST /project/{id}/deploy/{cloud_id}':
      return { ...deployBodies.deploy2, cloud: undefined };
    case 'POST /cloud':
    case 'PUT /cloud/{id}':
      return fixtures.cloud;
    case 'PUT /server/{id}':
      return fixtures.server;
    case 'POST /api/v1/agent/register':
      return { deployment_hash: agent.deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' };
    case 'POST /api/v1/agent/commands/report':
      return { command_id: 'cmd_x', deployment_hash: agent.deploymentHash, status: 'success', completed_at: new Date().toISOString() };
    case 'POST /api/v1/apps/status':
      return { deployment_hash: agent.deploymentHash, app_code: 'web', status: 'running', logs: [] };
    case 'POST /api/v1/commands':
      return { deployment_hash: agent.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } };
    case 'POST /webhooks/install':
      return { deploy_id: 1, status: 'in_progress', progress: 10 };
    default:
      return undefined;
  }
}

function pathValue(name: string, parameter: { schema?: Schema; example?: unknown }): string {
  if (name === 'deployment_hash') return agent.deploymentHash;
  if (name === 'command_id') return 'cmd_x';
  if (name === 'user_id') return 'someone';
  // An id that names no row: the document's example (1) is a row of another test file running at the
  // same time, and these requests go as an admin (an admin's PUT /admin/client/1/disable is real).
  if (parameter.schema?.type === 'integer') return '2147483000';
  return String(parameter.example ?? exampleOf(parameter.schema ?? { type: 'string' }));
}

const QUERY: Record<string, string> = {
  'GET /project/deploy/status': '?deployment_id=1',
  'GET /api/v1/agent/commands/wait/{deployment_hash}': '?timeout=1',
};

/** Who may call an operation, read from its `security`; admins for /admin routes. */
async function credentials(served: Served, body: string, url: string): Promise<Record<string, string>> {
  const schemes = (served.operation.security ?? [{}]).map((requirement) => Object.keys(requirement).sort().join('+'));
  if (schemes.includes('')) return {};
  if (schemes.includes('bearer')) return bearerFor(served.path.startsWith('/admin/') ? 'group_admin' : 'group_user', uniqueId('down'));
  if (schemes.includes('hmacClient+hmacSignature')) return hmacHeaders(apiClient, served.method, url, body);
  if (schemes.includes('agentId+bearer')) return agentHeaders(agent);
  if (schemes.includes('installSignature')) {
    return { 'x-install-signature': await installSignature(env.INSTALL_WEBHOOK_SECRET as string, body) };
  }
  throw new Error(`${served.method} ${served.path}: no caller for security ${JSON.stringify(served.operation.security)}`);
}

async function requestFor(served: Served): Promise<{ url: string; init: RequestInit }> {
  let url = served.path;
  for (const parameter of served.operation.parameters ?? []) {
    if (parameter.in === 'path') url = url.replace(`{${parameter.name}}`, encodeURIComponent(pathValue(parameter.name, parameter)));
  }
  url += QUERY[`${served.method} ${served.path}`] ?? '';
  const content = served.operation.requestBody?.content['application/json'];
  const value = content ? (bodyOverride(served.method, served.path) ?? exampleOf(content.schema)) : undefined;
  const body = value === undefined ? '' : JSON.stringify(value);
  const headers = await credentials(served, body, url);
  if (value === undefined) return { url, init: { method: served.method, headers } };
  return { url, init: { method: served.method, body, headers: { ...headers, 'content-type': 'application/json' } } };
}

function servedOperations(): Served[] {
  return Object.entries(document.paths).flatMap(([path, operations]) =>
    Object.entries(operations).map(([method, operation]) => ({ method: method.toUpperCase(), path, operation })),
  );
}

/**
 * Operations that answer without the database once the access rules are cached: who-am-I for an
 * anonymous caller, the install script (it names its secret but does not look it up), and a compose
 * file read into a project form (without `create`, nothing is stored). The document routes (outside
 * the document's own `paths`) are listed too.
 */
const WITHOUT_DATABASE = new Set(['GET /whoami', 'GET /schema/stacker.schema.json', 'GET /auth/config', 'GET /install/{secret}', 'POST /project/import']);
const DOCUMENT_ROUTES = ['/openapi.json', '/docs', '/docs/rapidoc.js'];

/** What is wrong with an answer that should be the database's 503, or undefined when it is right. */
async function notDatabaseUnavailable(response: Response): Promise<string | undefined> {
  const text = await response.text();
  if (response.status !== 503) return `${response.status} ${text}`;
  if (!response.headers.get('content-type')?.startsWith('application/json')) return `503 with content-type ${response.headers.get('content-type')}`;
  const message = (JSON.parse(text) as ErrorBody).message;
  return /^Database is unavailable/.test(message) ? undefined : `503 ${message}`;
}

describe('the database down', () => {
  beforeAll(async () => {
    document = (await (await api('/openapi.json')).json()) as OpenApiDocument;
    apiClient = await createApiClientFor();
    agent = await createAgent();
  });

  it('the document lists the operations this test sends', () => {
    const operations = servedOperations().map((served) => `${served.method} ${served.path}`);
    expect(operations.length).toBeGreaterThanOrEqual(55);
    for (const listed of [...WITHOUT_DATABASE, ...Object.keys(QUERY)]) expect(operations).toContain(listed);
  });

  it('in a fresh isolate (no rules cached) every route answers 503 naming the database: authorization reads its rules there', async () => {
    const wrong: string[] = [];
    for (const served of servedOperations()) {
      const { url, init } = await requestFor(served);
      invalidateRules();
      const problem = await notDatabaseUnavailable(await apiWithOneApp(DATABASE_DOWN, url, init));
      if (problem) wrong.push(`${served.method} ${served.path}: ${problem}`);
    }
    for (const path of DOCUMENT_ROUTES) {
      invalidateRules();
      const problem = await notDatabaseUnavailable(await apiWithOneApp(DATABASE_DOWN, path));
      if (problem) wrong.push(`GET ${path}: ${problem}`);
    }
    expect(wrong).toEqual([]);
  });

  it('with the rules cached, every operation that needs the database answers 503 naming it; the listed others answer normally', async () => {
    const wrong: string[] = [];
    const normal: string[] = [];
    for (const served of servedOperations()) {
      const label = `${served.method} ${served.path}`;
      const { url, init } = await requestFor(served);
      await warmRules();
      const response = await apiWithOneApp(DATABASE_DOWN, url, init);
      if (WITHOUT_DATABASE.has(label)) {
        if (response.status === 200) normal.push(label);
        else wrong.push(`${label}: ${response.status} ${await response.text()}`);
        continue;
      }
      const problem = await notDatabaseUnavailable(response);
      if (problem) wrong.push(`${label}: ${problem}`);
    }
    for (const path of DOCUMENT_ROUTES) {
      await warmRules();
      const response = await apiWithOneApp(DATABASE_DOWN, path);
      if (response.status === 200) normal.push(`GET ${path}`);
      else wrong.push(`GET ${path}: ${response.status}`);
    }
    expect(wrong).toEqual([]);
    expect(normal).toEqual([...WITHOUT_DATABASE, ...DOCUMENT_ROUTES.map((path) => `GET ${path}`)]);
  });

  it('rules past their 30 s are kept while the database is down, and read again once it is back', async () => {
    await warmRules();
    const expired = Date.now() + RULES_TTL_MS + 1_000;
    const warm = await withDatabase((db) => cachedEnforcer(db));
    expect(await withDatabaseDown((down) => cachedEnforcer(down, expired))).toBe(warm);
    const fresh = await withDatabase((db) => cachedEnforcer(db, expired));
    expect(fresh).not.toBe(warm);
    // and with nothing cached there is nothing to fall back on: the database's own error
    invalidateRules();
    const failure = await withDatabaseDown((cold) => cachedEnforcer(cold)).catch((error: unknown) => error);
    expect(isDatabaseUnavailable(failure)).toBe(true);
  });

  it('while one request reads expired rules again, the others go on with the last rules read, opening no database', async () => {
    await warmRules();
    const expired = Date.now() + RULES_TTL_MS + 1_000;
    const warm = await withDatabase((db) => cachedEnforcer(db));
    await withDatabaseDown(async (down) => {
      const reading = cachedEnforcer(down, expired);
      const opened: string[] = [];
      const meanwhile = await cachedEnforcer(() => {
        opened.push('database');
        throw new Error('a second reader opened the database');
      }, expired);
      expect(meanwhile).toBe(warm);
      expect(opened).toEqual([]);
      expect(await reading).toBe(warm); // the read failed: the last rules stay
    });
  });

  it('recovers: the same requests against the database again answer without a 503 or a 500, cached rules or not', async () => {
    const wrong: string[] = [];
    for (const served of servedOperations()) {
      const label = `${served.method} ${served.path}`;
      for (const rules of ['not cached', 'cached']) {
        const { url, init } = await requestFor(served);
        if (rules === 'not cached') invalidateRules();
        const response = await apiWithOneApp({}, url, init);
        if (response.status >= 500) wrong.push(`${label} (rules ${rules}): ${response.status} ${await response.text()}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe('a request database whose connection drops', () => {
  it('gives back a connection whose BEGIN failed, so closing it does not hang', async () => {
    const database = new RequestDatabase({ url: env.DATABASE_URL as string, wsProxy: inject('pgFaultProxy').address });
    await faultProxy('/__arm');
    await database.db.execute(sql`select 1`); // the connection is open and idle in the pool
    await faultProxy('/__arm?cut_after=0'); // its next message (the BEGIN) is cut
    await expect(database.db.transaction((tx) => tx.execute(sql`select 1`))).rejects.toSatisfy(isDatabaseUnavailable);
    await faultProxy('/__disarm');
    // Without the fix in db/client.ts this never resolves: the pool waits for a connection drizzle never released.
    await database.close();
    expect(database.opened).toBe(false);
  });
});

describe('Vault down', () => {
  const vaultDown = { VAULT_ADDRESS: 'http://127.0.0.1:9' };

  it('registration at an unreachable Vault is a 503 naming it, and leaves no agent row', async () => {
    const deployment = await createDeployment();
    const response = await apiWithOneApp(vaultDown, '/api/v1/agent/register', jsonRequest('POST', { deployment_hash: deployment.deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' }));
    expect(response.status).toBe(503);
    expect(((await response.json()) as ErrorBody).message).toMatch(/Vault/);
    expect(await count(sql`select count(*) as n from agents where deployment_hash = ${deployment.deploymentHash}`)).toBe(0);
  });

  it('does not touch agents that are registered: they authenticate, wait, report and post app status', async () => {
    for (const settings of [vaultDown, { VAULT_ADDRESS: `${inject('vaultStubUrl')}/__down` }]) {
      const target = await createAgent();
      const created = await api('/api/v1/commands', jsonRequest('POST', { deployment_hash: target.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, asUser(target.ownerId)));
      expect(created.status).toBe(201);
      const commandId = ((await created.json()) as { item: { command_id: string } }).item.command_id;

      const whoami = await apiWithOneApp(settings, '/whoami', { headers: agentHeaders(target) });
      expect(((await whoami.json()) as { item: { kind: string } }).item.kind).toBe('agent');
      const waited = await apiWithOneApp(settings, `/api/v1/agent/commands/wait/${target.deploymentHash}?timeout=1`, { headers: agentHeaders(target) });
      expect(waited.status).toBe(200);
      expect(((await waited.json()) as { item: { command_id: string } }).item.command_id).toBe(commandId);
      const report = { command_id: commandId, deployment_hash: target.deploymentHash, status: 'success', result: { ok: true }, completed_at: new Date().toISOString() };
      expect((await apiWithOneApp(settings, '/api/v1/agent/commands/report', jsonRequest('POST', report, agentHeaders(target)))).status).toBe(200);
      const appStatus = { deployment_hash: target.deploymentHash, app_code: 'web', status: 'running', logs: [] };
      expect((await apiWithOneApp(settings, '/api/v1/apps/status', jsonRequest('POST', appStatus, agentHeaders(target)))).status).toBe(200);
    }
  });
});

describe('the install service failing', () => {
  it('a delivery that times out, then one answered 500, are retried until it is accepted, under one message id', async () => {
    const hash = `deployment_${crypto.randomUUID()}`;
    // The timeout ends the hung first delivery; the next two must be answered within it, which on a
    // loaded 2-core machine takes more than a few hundred ms (seen in a whole run: 300 ms was too short).
    const publisher = directPublisher({ signingKey: env.QSTASH_CURRENT_SIGNING_KEY as string, timeoutMs: 3_000, sleep: async () => undefined });
    const { messageId } = await publisher.publish({
      url: `${env.INSTALL_SERVICE_URL}?hang=1&fail=1`,
      body: JSON.stringify({ deployment_hash: hash }),
      deduplicationId: `deploy-${hash}`,
      flowControlKey: `deployment-${hash}`,
    });
    const deliveries = await deliveriesOf(hash, 1);
    expect(deliveries.map((delivery) => [delivery.status, delivery.headers['upstash-retried']])).toEqual([
      [0, '0'],
      [500, '1'],
      [200, '2'],
    ]);
    expect(new Set(deliveries.map((delivery) => delivery.messageId))).toEqual(new Set([messageId]));
  });

  it('gives up after its retries with the reason, leaving the job to the outbox', async () => {
    const hash = `deployment_${crypto.randomUUID()}`;
    const publisher = directPublisher({ signingKey: env.QSTASH_CURRENT_SIGNING_KEY as string, timeoutMs: 300, sleep: async () => undefined });
    const job = { url: `${env.INSTALL_SERVICE_URL}?hang=4`, body: JSON.stringify({ deployment_hash: hash }), deduplicationId: `deploy-${hash}`, flowControlKey: hash };
    await expect(publisher.publish(job)).rejects.toThrow(/install service unreachable \(TimeoutError\)/);
    expect((await deliveriesOf(hash)).map((delivery) => delivery.status)).toEqual([0, 0, 0, 0]);
  });

  it('checks the signature of every webhook delivery, also of a message id it has already applied', async () => {
    const { userId, deploymentId } = await deployedProject();
    const messageId = uniqueId('msg');
    const body = JSON.stringify({ deploy_id: deploymentId, status: 'in_progress', progress: 20, message: 'Creating server' });
    const sign = (secret: string, text = body) => installSignature(secret, text);
    const deliver = (headers: Record<string, string>, text = body) =>
      apiWithOneApp({}, '/webhooks/install', { method: 'POST', body: text, headers: { 'content-type': 'application/json', 'x-install-message-id': messageId, ...headers } });
    const secret = env.INSTALL_WEBHOOK_SECRET as string;

    const first = await deliver({ 'x-install-signature': await sign(secret) });
    expect(first.status).toBe(200);
    expect(((await first.json()) as { item: { duplicate: boolean } }).item.duplicate).toBe(false);

    const forged = JSON.stringify({ deploy_id: deploymentId, status: 'failed', message: 'forged' });
    const refused: Array<[string, Record<string, string>, string?]> = [
      ['no signature', {}],
      ['a signature with another secret', { 'x-install-signature': await sign('not-the-secret') }],
      ['a signature of another body', { 'x-install-signature': await sign(secret) }, forged],
      ['a malformed signature', { 'x-install-signature': 'sha256=zz' }],
      ['the old sha256= form', { 'x-install-signature': `sha256=${await hmacSha256Hex(secret, new TextEncoder().encode(body))}` }],
      ['a bad Upstash signature', { 'upstash-signature': 'not.a.jwt' }],
    ];
    for (const [label, headers, text] of refused) {
      const response = await deliver(headers, text);
      expect(response.status, label).toBe(401);
    }
    const again = await deliver({ 'x-install-signature': await sign(secret) });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { item: { duplicate: boolean } }).item.duplicate).toBe(true);
    const status = await api(`/project/deploy/status?deployment_id=${deploymentId}`, { headers: asUser(userId) });
    expect(((await status.json()) as { item: { status: string; message: string } }).item).toMatchObject({ status: 'in_progress', message: 'Creating server' });
  });
});

describe('Docker Hub down', () => {
  it('deploy and project update answer 503 naming Docker Hub and write nothing', async () => {
    const hubDown = { DOCKERHUB_URL: 'http://127.0.0.1:9' };
    const userId = uniqueId('hub');
    const projectId = await createProject(userId);
    const before = await withDatabase(async (db) => (await db.execute(sql`select updated_at, metadata from project where id = ${projectId}`)).rows[0]);

    const deployed = await apiWithOneApp(hubDown, `/project/${projectId}/deploy`, jsonRequest('POST', { ...deployBodies.deploy2, cloud: savedCloud }, asUser(userId)));
    expect(deployed.status).toBe(503);
    expect(((await deployed.json()) as ErrorBody).message).toMatch(/Docker Hub/);
    const updated = await apiWithOneApp(hubDown, `/project/${projectId}`, jsonRequest('PUT', projectForms[1]!.body, asUser(userId)));
    expect(updated.status).toBe(503);
    expect(((await updated.json()) as ErrorBody).message).toMatch(/Docker Hub/);

    expect(await count(sql`select count(*) as n from deployment where project_id = ${projectId}`)).toBe(0);
    expect(await count(sql`select count(*) as n from server where project_id = ${projectId}`)).toBe(0);
    expect(await count(sql`select count(*) as n from cloud where user_id = ${userId}`)).toBe(0);
    const after = await withDatabase(async (db) => (await db.execute(sql`select updated_at, metadata from project where id = ${projectId}`)).rows[0]);
    expect(after).toEqual(before);
  });
});

describe('the OAuth server down', () => {
  it('its key set unreachable: a JWT bearer is a 503 naming it, never a user, and nothing is written', async () => {
    const subject = uniqueId('jwks');
    const token = await signJwt({ sub: subject, role: 'group_user', email: `${subject}@example.test` });
    // The same token is accepted while the key set answers.
    const whoami = await apiWithOneApp({}, '/whoami', { headers: { authorization: `Bearer ${token}` } });
    expect(((await whoami.json()) as { item: { user_id: string } }).item.user_id).toBe(subject);

    for (const jwksUrl of ['http://127.0.0.1:9/jwks', `${inject('oauthStubUrl')}/no-such-key-set`]) {
      for (const [method, path] of [['GET', '/whoami'], ['POST', '/client']] as const) {
        const response = await apiWithOneApp({ OAUTH_JWKS_URL: jwksUrl }, path, { method, headers: { authorization: `Bearer ${token}` } });
        expect(response.status, `${jwksUrl} ${path}`).toBe(503);
        expect(((await response.json()) as ErrorBody).message).toMatch(/OAuth key set/);
      }
    }
    expect(await count(sql`select count(*) as n from client where user_id = ${subject}`)).toBe(0);
  });
});

describe('an agent that drops its connection', () => {
  it('while waiting: the command it would have been given reaches its next wait (after the lease, if the dropped wait took it)', async () => {
    const target = await createAgent();
    const dropped = new AbortController();
    const abandoned = api(`/api/v1/agent/commands/wait/${target.deploymentHash}?timeout=2`, { headers: agentHeaders(target), signal: dropped.signal }).catch((error: unknown) => error);
    // The wait has reached the server once it wrote the agent's heartbeat.
    await vi.waitFor(async () => expect(await count(sql`select count(*) as n from agents where id = ${target.agentId} and last_heartbeat is not null`)).toBe(1), { timeout: 15_000 });
    dropped.abort();
    expect(await abandoned).toBeInstanceOf(Error);

    const created = await api('/api/v1/commands', jsonRequest('POST', { deployment_hash: target.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, asUser(target.ownerId)));
    const commandId = ((await created.json()) as { item: { command_id: string } }).item.command_id;
    const wait = async () => {
      const response = await api(`/api/v1/agent/commands/wait/${target.deploymentHash}?timeout=1`, { headers: agentHeaders(target) });
      return ((await response.json()) as { item: { command_id: string; attempts: number } | null }).item;
    };

    const next = await wait();
    if (next) {
      // The runtime ended the dropped wait before it claimed anything.
      expect(next).toMatchObject({ command_id: commandId, attempts: 1 });
      return;
    }
    // The dropped wait claimed it and answered into a closed connection: it is leased, not lost.
    const [row] = (await withDatabase(async (db) => (await db.execute(sql`select status, attempts from commands where command_id = ${commandId}`)).rows)) as Array<{ status: string; attempts: number }>;
    expect(row).toEqual({ status: 'sent', attempts: 1 });
    await withDatabase((db) => db.execute(sql`update commands set lease_expires_at = now() - interval '1 second' where command_id = ${commandId}`));
    await runScheduledJobs(env as never);
    expect(await wait()).toMatchObject({ command_id: commandId, attempts: 2 });
  });
});
