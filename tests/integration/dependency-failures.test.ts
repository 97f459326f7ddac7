// What the service does when a dependency stops or breaks in the middle of the work (issue 7, point 2).
// docs/failure-modes.md lists every failure, what the service does, and the test that proves it; the
// failures other test files already cover are named there and not repeated here.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { beforeAll, describe, expect, inject, it, vi } from 'vitest';
import { isDatabaseUnavailable, RequestDatabase } from '../../db/client.ts';
import { runScheduledJobs } from '../../functions/cron.ts';
import { cachedEnforcer, invalidateRules, RULES_TTL_MS } from '../../functions/services/access-control.ts';
import { hmacSha256Hex } from '../../functions/services/crypto.ts';
import { directPublisher } from '../../functions/services/queue.ts';
import { api, apiWith, jsonRequest } from '../helpers/api.ts';
import { agentHeaders, bearerFor, createAgent, createApiClientFor, createDeployment, hmacHeaders, signJwt, uniqueId, type TestAgent, type TestClient } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { deliveriesOf, installSignature } from '../helpers/deploy.ts';
import { deployBodies, fixtures, projectForms } from '../helpers/fixtures.ts';

const DATABASE_DOWN = { DATABASE_URL: 'postgres://postgres@127.0.0.1:9/nowhere' };

interface ErrorBody {
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

/** Runs `use` with a request database whose server is not there, closed afterwards. */
async function withDatabaseDown<T>(use: (db: RequestDatabase['db']) => Promise<T>): Promise<T> {
  const down = new RequestDatabase({ url: DATABASE_DOWN.DATABASE_URL, wsProxy: env.DATABASE_WS_PROXY as string });
  try {
    return await use(down.db);
  } finally {
    await down.close();
  }
}

/** Loads the casbin rules into this isolate's cache from the real database (a warm isolate). */
async function warmRules(): Promise<void> {
  invalidateRules();
  await withDatabase((db) => cachedEnforcer(db));
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
      const problem = await notDatabaseUnavailable(await apiWith(DATABASE_DOWN, url, init));
      if (problem) wrong.push(`${served.method} ${served.path}: ${problem}`);
    }
    for (const path of DOCUMENT_ROUTES) {
      invalidateRules();
      const problem = await notDatabaseUnavailable(await apiWith(DATABASE_DOWN, path));
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
      const response = await apiWith(DATABASE_DOWN, url, init);
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
      const response = await apiWith(DATABASE_DOWN, path);
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
        const response = await apiWith({}, url, init);
        if (response.status >= 500) wrong.push(`${label} (rules ${rules}): ${response.status} ${await response.text()}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// The database connection cut in the middle of a request (tests/stubs/pg-fault-proxy.ts)
// ---------------------------------------------------------------------------------------------

interface ProxyState {
  messages: number;
  cut: boolean;
  types: string;
}

async function faultProxy(path: string, method = 'POST'): Promise<ProxyState> {
  const response = await fetch(`${inject('pgFaultProxy').controlUrl}${path}`, { method });
  return (await response.json()) as ProxyState;
}

/**
 * Settings that send a request's database traffic through the fault proxy, counted and cut in the
 * proxy's session `session`: the request's connections name it as their application_name.
 */
function throughFaultProxy(session: string): Record<string, string> {
  const url = new URL(env.DATABASE_URL as string);
  url.searchParams.set('application_name', session);
  return { DATABASE_WS_PROXY: inject('pgFaultProxy').address, DATABASE_URL: url.toString() };
}

type Rows = Record<string, number>;

interface AtomicOperation<T> {
  prepare(): Promise<T>;
  /** The request under test: path and init, sent through the fault proxy. */
  request(context: T): Promise<[string, RequestInit]>;
  /** Counts of the rows that belong together; after any attempt they are all as in `complete`, or all 0. */
  rows(context: T): Promise<Rows>;
  complete: Rows;
  /** Checks after each attempt, given its status (e.g. a retry with the same Idempotency-Key). */
  afterwards?(context: T, status: number, body: string): Promise<void>;
}

interface CutReport {
  /** Protocol messages the operation sends when nothing goes wrong, and their type letters. */
  messages: number;
  types: string;
  /** How the attempts ended: "cut 503 none", "lost answer 503 all" (committed, the caller told nothing)... */
  outcomes: Record<string, number>;
}

/**
 * Runs the operation once to count its protocol messages, then once for every message with the
 * database cut just before it, and once for every message that can commit with its answer lost;
 * checks every attempt: never a 500, a 503 naming the database or a success, the rows all there or none.
 */
/**
 * The sweeps cut at message N of an uncut run; with other test files loading the machine, a later
 * attempt's messages sometimes fall differently (a cache refreshed between attempts adds a query), so
 * one outcome can go unseen in a sweep. One more sweep, never a weaker check.
 */
const CUT_SWEEP_RETRIES = 1;

/**
 * Attempts of a sweep sent at the same time. Each is cut in a proxy session of its own, so they do
 * not count each other's messages; they are prepared before and checked after, never while another
 * attempt's request is in flight, so the only requests going on beside an attempt are attempts.
 */
const ATTEMPTS_AT_ONCE = 6;

async function cutAtEveryMessage<T>(operation: AtomicOperation<T>): Promise<CutReport> {
  const none = Object.fromEntries(Object.keys(operation.complete).map((table) => [table, 0]));
  const problems: string[] = [];
  const outcomes: Record<string, number> = {};

  /** Sends the operation's request with the database cut as `arm` says, in a proxy session of its own. */
  async function send(context: T, arm: string): Promise<{ status: number; body: string; state: ProxyState }> {
    const session = `cut-${crypto.randomUUID()}`;
    await faultProxy(`/__arm${arm === '' ? '?' : `${arm}&`}session=${session}`);
    const response = await apiWith(throughFaultProxy(session), ...(await operation.request(context)));
    const body = await response.text();
    const state = await faultProxy(`/__state?session=${session}`, 'GET');
    await faultProxy(`/__disarm?session=${session}`);
    return { status: response.status, body, state };
  }
  /** One attempt per arming: all prepared, then all sent at once (rules cached), then each checked. */
  async function attempts(arms: string[]): Promise<Array<{ status: number; body: string; rows: Rows; state: ProxyState }>> {
    const contexts = await Promise.all(arms.map(() => operation.prepare()));
    await warmRules();
    const sent = await Promise.all(arms.map((arm, index) => send(contexts[index]!, arm)));
    return Promise.all(
      sent.map(async ({ status, body, state }, index) => {
        const rows = await operation.rows(contexts[index]!);
        await operation.afterwards?.(contexts[index]!, status, body);
        return { status, body, rows, state };
      }),
    );
  }
  const same = (a: Rows, b: Rows) => JSON.stringify(a) === JSON.stringify(b);

  const [uncut] = await attempts(['']);
  if (uncut!.status >= 300 || !same(uncut!.rows, operation.complete)) problems.push(`uncut: ${uncut!.status} ${uncut!.body} rows ${JSON.stringify(uncut!.rows)}`);
  const { messages, types } = uncut!.state;
  const faults = [
    ...Array.from({ length: messages }, (_, index) => ({ kind: 'cut', arm: `?cut_after=${index}` })),
    // A simple query (BEGIN, COMMIT) or a Sync (which commits a statement outside a transaction).
    ...[...types].flatMap((type, index) => (type === 'Q' || type === 'S' ? [{ kind: 'lost answer', arm: `?lose_answer=${index + 1}` }] : [])),
  ];
  for (let start = 0; start < faults.length; start += ATTEMPTS_AT_ONCE) {
    const batch = faults.slice(start, start + ATTEMPTS_AT_ONCE);
    const results = await attempts(batch.map((fault) => fault.arm));
    batch.forEach((fault, index) => {
      const { status, body, rows, state } = results[index]!;
      const label = `${fault.arm} (${state.types})`;
      const succeeded = status >= 200 && status < 300;
      if (!succeeded && (status !== 503 || !/^Database is unavailable/.test((JSON.parse(body) as ErrorBody).message))) problems.push(`${label}: ${status} ${body}`);
      const all = same(rows, operation.complete);
      const nothing = same(rows, none);
      if (succeeded ? !all : !all && !nothing) problems.push(`${label}: ${status} left rows ${JSON.stringify(rows)}`);
      const outcome = `${fault.kind} ${status} ${all ? 'all' : nothing ? 'none' : 'some'}`;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    });
  }
  expect(problems).toEqual([]);
  expect(messages).toBeGreaterThan(0);
  return { messages, types, outcomes };
}

async function count(query: ReturnType<typeof sql>): Promise<number> {
  return withDatabase(async (db) => Number((await db.execute<{ n: string }>(query)).rows[0]!.n));
}

const asUser = (userId: string) => bearerFor('group_user', userId);

/**
 * After an attempt that sent an Idempotency-Key: the same request again answers what the attempt
 * created (200, the same `item`) when the attempt was told 201; otherwise (it was cut) it creates or
 * answers it; either way exactly one row is there in the end.
 */
async function checkRetryWithSameKey(attempt: { status: number; body: string }, retry: () => Promise<Response>, rows: () => Promise<number>): Promise<void> {
  const answer = await retry();
  const retried = (await answer.json()) as { item: unknown };
  if (attempt.status === 201) {
    expect(answer.status).toBe(200);
    expect(retried.item).toEqual((JSON.parse(attempt.body) as { item: unknown }).item);
  } else {
    expect([200, 201]).toContain(answer.status);
  }
  expect(await rows()).toBe(1);
}
const savedCloud = { provider: 'htz', cloud_token: 'hcloud-cut-test-token', save_token: true };

async function createProject(userId: string): Promise<number> {
  const response = await api('/project', jsonRequest('POST', projectForms[2]!.body, asUser(userId)));
  expect(response.status).toBe(201);
  return ((await response.json()) as { item: { id: number } }).item.id;
}

/** A project with one deployment whose job has gone out to the install service. */
async function deployedProject(): Promise<{ userId: string; projectId: number; deploymentId: number }> {
  const userId = uniqueId('cut');
  const projectId = await createProject(userId);
  const response = await apiWith({}, `/project/${projectId}/deploy`, jsonRequest('POST', { ...deployBodies.deploy2, cloud: { ...savedCloud, save_token: false } }, asUser(userId)));
  expect(response.status).toBe(202);
  return { userId, projectId, deploymentId: ((await response.json()) as { item: { deployment_id: number } }).item.deployment_id };
}

async function progressRequest({ deploymentId, messageId }: { deploymentId: number; messageId: string }): Promise<[string, RequestInit]> {
  const body = JSON.stringify({ deploy_id: deploymentId, status: 'in_progress', progress: 40, message: 'Installing apps' });
  const signature = await installSignature(env.INSTALL_WEBHOOK_SECRET as string, body);
  return ['/webhooks/install', { method: 'POST', body, headers: { 'content-type': 'application/json', 'x-install-signature': signature, 'x-install-message-id': messageId } }];
}

describe('the database connection cut mid-request: all rows that belong together, or none', () => {
  it('deploy: server, saved cloud, deployment and its outbox job; a retry with the Idempotency-Key starts nothing more', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const deployRequest = (userId: string, projectId: number): [string, RequestInit] => [
      `/project/${projectId}/deploy`,
      jsonRequest('POST', { ...deployBodies.deploy2, cloud: savedCloud }, { ...asUser(userId), 'idempotency-key': `deploy-${projectId}` }),
    ];
    const report = await cutAtEveryMessage({
      prepare: async () => {
        const userId = uniqueId('cut');
        return { userId, projectId: await createProject(userId) };
      },
      request: async ({ userId, projectId }) => deployRequest(userId, projectId),
      afterwards: async ({ userId, projectId }) => {
        const startedBefore = await count(sql`select count(*) as n from deployment where project_id = ${projectId}`);
        const retry = await apiWith({}, ...deployRequest(userId, projectId));
        // Started before (whether or not the caller heard of it): 200 with that deployment; else started now.
        expect(retry.status).toBe(startedBefore === 1 ? 200 : 202);
        expect(await count(sql`select count(*) as n from deployment where project_id = ${projectId}`)).toBe(1);
      },
      rows: async ({ userId, projectId }) => ({
        server: await count(sql`select count(*) as n from server where project_id = ${projectId}`),
        cloud: await count(sql`select count(*) as n from cloud where user_id = ${userId}`),
        deployment: await count(sql`select count(*) as n from deployment where project_id = ${projectId}`),
        outbox: await count(sql`select count(*) as n from deploy_outbox o join deployment d on d.id = o.deployment_id where d.project_id = ${projectId}`),
      }),
      complete: { server: 1, cloud: 1, deployment: 1, outbox: 1 },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    expect(report.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('deploy', report);
  });

  it('cancel: the deployment cancelled and the cancel job queued', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const report = await cutAtEveryMessage({
      prepare: deployedProject,
      request: async ({ userId, projectId, deploymentId }) => [`/project/${projectId}/deployments/${deploymentId}/cancel`, { method: 'POST', headers: asUser(userId) }],
      rows: async ({ deploymentId }) => ({
        cancelled: await count(sql`select count(*) as n from deployment where id = ${deploymentId} and status = 'cancelled'`),
        cancelJob: await count(sql`select count(*) as n from deploy_outbox where deployment_id = ${deploymentId} and kind = 'cancel'`),
      }),
      complete: { cancelled: 1, cancelJob: 1 },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    console.info('cancel', report);
  });

  it('install progress webhook: the receipt of the message id and the status change', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const report = await cutAtEveryMessage({
      prepare: async () => ({ ...(await deployedProject()), messageId: uniqueId('msg') }),
      request: progressRequest,
      rows: async ({ deploymentId, messageId }) => ({
        receipt: await count(sql`select count(*) as n from webhook_receipt where message_id = ${messageId}`),
        moved: await count(sql`select count(*) as n from deployment where id = ${deploymentId} and status = 'in_progress' and progress = 40`),
      }),
      complete: { receipt: 1, moved: 1 },
      // The install service delivers again whatever was not answered 200: applied once, in the end.
      afterwards: async (context, status) => {
        if (status === 200) return;
        const redelivered = await apiWith({}, ...(await progressRequest(context)));
        expect(redelivered.status).toBe(200);
        expect(await count(sql`select count(*) as n from webhook_receipt where message_id = ${context.messageId}`)).toBe(1);
      },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    console.info('webhook', report);
  });

  it('agent registration: the agent row, and a token that works exactly when the answer carried it', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const report = await cutAtEveryMessage({
      prepare: () => createDeployment(),
      request: async ({ deploymentHash }) => ['/api/v1/agent/register', jsonRequest('POST', { deployment_hash: deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' })],
      rows: async ({ deploymentHash }) => ({ agent: await count(sql`select count(*) as n from agents where deployment_hash = ${deploymentHash}`) }),
      complete: { agent: 1 },
      afterwards: async (deployment, status, body) => {
        let answer = { status, body };
        const registered = await count(sql`select count(*) as n from agents where deployment_hash = ${deployment.deploymentHash}`);
        if (status === 503 && registered === 1) {
          // Registered, but the answer with the token was lost: the agent cannot register again
          // anonymously (409); its owner re-issues the token.
          const reissued = await api('/api/v1/agent/register', jsonRequest('POST', { deployment_hash: deployment.deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' }, asUser(deployment.ownerId)));
          answer = { status: reissued.status, body: await reissued.text() };
        }
        if (answer.status !== 201) return;
        const { item } = JSON.parse(answer.body) as { item: { agent_id: string; agent_token: string } };
        expect((await api('/whoami', { headers: agentHeaders({ agentId: item.agent_id, token: item.agent_token }) })).status).toBe(200);
      },
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    expect(report.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('register', report);
  });

  it('command creation with an Idempotency-Key: one command, and a retry after a 503 answers it', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const createCommand = (target: Awaited<ReturnType<typeof createAgent>>, key: string) =>
      jsonRequest('POST', { deployment_hash: target.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, { ...asUser(target.ownerId), 'idempotency-key': key });
    const report = await cutAtEveryMessage({
      prepare: async () => ({ agent: await createAgent(), key: uniqueId('idem') }),
      request: async ({ agent: target, key }) => ['/api/v1/commands', createCommand(target, key)],
      rows: async ({ agent: target, key }) => ({
        command: await count(sql`select count(*) as n from commands where deployment_hash = ${target.deploymentHash} and idempotency_key = ${key}`),
      }),
      complete: { command: 1 },
      afterwards: ({ agent: target, key }, status, body) =>
        checkRetryWithSameKey(
          { status, body },
          () => api('/api/v1/commands', createCommand(target, key)),
          () => count(sql`select count(*) as n from commands where deployment_hash = ${target.deploymentHash} and idempotency_key = ${key}`),
        ),
    });
    expect(report.outcomes['cut 503 none']).toBeGreaterThan(0);
    // The insert committed and the caller was told 503: its retry with the key answered that command.
    expect(report.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('command', report);
  });

  it('project and API client creation with an Idempotency-Key: one row or none, and a retry answers it', { timeout: 180_000, retry: CUT_SWEEP_RETRIES }, async () => {
    const createWithKey = (userId: string) => jsonRequest('POST', projectForms[2]!.body, { ...asUser(userId), 'idempotency-key': 'create' });
    const project = await cutAtEveryMessage({
      prepare: async () => uniqueId('cut'),
      request: async (userId) => ['/project', createWithKey(userId)],
      rows: async (userId) => ({ project: await count(sql`select count(*) as n from project where user_id = ${userId}`) }),
      complete: { project: 1 },
      afterwards: (userId, status, body) =>
        checkRetryWithSameKey({ status, body }, () => api('/project', createWithKey(userId)), () => count(sql`select count(*) as n from project where user_id = ${userId}`)),
    });
    const createClient = (userId: string) => ({ method: 'POST', headers: { ...asUser(userId), 'idempotency-key': 'create' } });
    const apiClientCut = await cutAtEveryMessage({
      prepare: async () => uniqueId('cut'),
      request: async (userId) => ['/client', createClient(userId)],
      rows: async (userId) => ({ client: await count(sql`select count(*) as n from client where user_id = ${userId}`) }),
      complete: { client: 1 },
      afterwards: (userId, status, body) =>
        checkRetryWithSameKey({ status, body }, () => api('/client', createClient(userId)), () => count(sql`select count(*) as n from client where user_id = ${userId}`)),
    });
    expect(project.outcomes['cut 503 none']).toBeGreaterThan(0);
    // The insert committed and the caller was told 503: its retry with the key answered that project.
    expect(project.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    expect(apiClientCut.outcomes['cut 503 none']).toBeGreaterThan(0);
    expect(apiClientCut.outcomes['lost answer 503 all']).toBeGreaterThan(0);
    console.info('project', project, 'client', apiClientCut);
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
    const response = await apiWith(vaultDown, '/api/v1/agent/register', jsonRequest('POST', { deployment_hash: deployment.deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' }));
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

      const whoami = await apiWith(settings, '/whoami', { headers: agentHeaders(target) });
      expect(((await whoami.json()) as { item: { kind: string } }).item.kind).toBe('agent');
      const waited = await apiWith(settings, `/api/v1/agent/commands/wait/${target.deploymentHash}?timeout=1`, { headers: agentHeaders(target) });
      expect(waited.status).toBe(200);
      expect(((await waited.json()) as { item: { command_id: string } }).item.command_id).toBe(commandId);
      const report = { command_id: commandId, deployment_hash: target.deploymentHash, status: 'success', result: { ok: true }, completed_at: new Date().toISOString() };
      expect((await apiWith(settings, '/api/v1/agent/commands/report', jsonRequest('POST', report, agentHeaders(target)))).status).toBe(200);
      const appStatus = { deployment_hash: target.deploymentHash, app_code: 'web', status: 'running', logs: [] };
      expect((await apiWith(settings, '/api/v1/apps/status', jsonRequest('POST', appStatus, agentHeaders(target)))).status).toBe(200);
    }
  });
});

describe('the install service failing', () => {
  it('a delivery that times out, then one answered 500, are retried until it is accepted, under one message id', async () => {
    const hash = `deployment_${crypto.randomUUID()}`;
    const publisher = directPublisher({ signingKey: env.QSTASH_CURRENT_SIGNING_KEY as string, timeoutMs: 300, sleep: async () => undefined });
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
      apiWith({}, '/webhooks/install', { method: 'POST', body: text, headers: { 'content-type': 'application/json', 'x-install-message-id': messageId, ...headers } });
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

    const deployed = await apiWith(hubDown, `/project/${projectId}/deploy`, jsonRequest('POST', { ...deployBodies.deploy2, cloud: savedCloud }, asUser(userId)));
    expect(deployed.status).toBe(503);
    expect(((await deployed.json()) as ErrorBody).message).toMatch(/Docker Hub/);
    const updated = await apiWith(hubDown, `/project/${projectId}`, jsonRequest('PUT', projectForms[1]!.body, asUser(userId)));
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
    const whoami = await apiWith({}, '/whoami', { headers: { authorization: `Bearer ${token}` } });
    expect(((await whoami.json()) as { item: { user_id: string } }).item.user_id).toBe(subject);

    for (const jwksUrl of ['http://127.0.0.1:9/jwks', `${inject('oauthStubUrl')}/no-such-key-set`]) {
      for (const [method, path] of [['GET', '/whoami'], ['POST', '/client']] as const) {
        const response = await apiWith({ OAUTH_JWKS_URL: jwksUrl }, path, { method, headers: { authorization: `Bearer ${token}` } });
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
    await vi.waitFor(async () => expect(await count(sql`select count(*) as n from agents where id = ${target.agentId} and last_heartbeat is not null`)).toBe(1));
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
