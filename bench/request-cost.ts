// CPU per request, by process, on the real local service: what one request of each kind costs the
// Worker (workerd), wrangler's dev proxy, the WebSocket proxy, PostgreSQL and the client. The load run
// (bench/load) is bound by this sum on a 2-core machine; this is the figure to move when it falls short.
//   node bench/request-cost.ts [--requests 2000] [--connections 20] [--baseline DIR] [--only TEXT]
//   (or BENCH_REQUESTS, BENCH_CONNECTIONS)
// --only TEXT: only the kinds whose name contains TEXT (e.g. --only 'first poll').
// --baseline DIR: first the same measurements with the service run from DIR (e.g. today's code,
// `git archive HEAD functions db drizzle schema scripts wrangler.toml package.json tsconfig.json | tar -x -C DIR`),
// then from a snapshot of this tree; both tables printed, side by side in one run.
// Each kind: a warm-up of 100 requests, then --requests at --connections in flight, every answer a 200.
// CPU is read from /proc for every process of the service and its private PostgreSQL (rate limits off,
// so every request is served). Postgres statements and transactions per request are counted on the
// private server: pg_stat_statements (calls, the benchmark's own reads left out) and pg_stat_database
// (xact_commit + xact_rollback of the service's database, less the benchmark's own reads).
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { AnyDatabase } from '../db/client.ts';
import * as schema from '../db/schema.ts';
import { createApiClient } from '../functions/services/api-clients.ts';
import { signedGet } from './lib/client-signing.ts';
import { registerEach, seedAgents } from './load/agents.ts';
import { cpuBetween, snapshot } from './load/processes.ts';
import { machine, RATE_LIMITS_OFF, startService, type Service } from './lib/service.ts';

function settings() {
  const usage = 'usage: node bench/request-cost.ts [--requests n] [--connections n] [--baseline dir] [--only text]';
  try {
    const { values } = parseArgs({ options: { requests: { type: 'string' }, connections: { type: 'string' }, baseline: { type: 'string' }, only: { type: 'string' } } });
    const requests = Number(values.requests ?? process.env.BENCH_REQUESTS ?? 2000);
    const connections = Number(values.connections ?? process.env.BENCH_CONNECTIONS ?? 20);
    if ([requests, connections].every((n) => Number.isInteger(n) && n > 0)) return { requests, connections, baseline: values.baseline, only: values.only ?? '' };
    console.error(`${usage} (whole numbers above 0)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const { requests, connections, baseline, only } = settings();
const command = [
  ...['BENCH_REQUESTS', 'BENCH_CONNECTIONS'].flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : [])),
  'node bench/request-cost.ts',
  ...process.argv.slice(2),
].join(' ');

interface Request {
  path: string;
  headers: Record<string, string>;
}

interface Kind extends Request {
  name: string;
  /**
   * The requests of one connection, cycled through (each of --connections agents waits on its own
   * deployment); `run` 0 is the warm-up, 1 the measured run.
   */
  perConnection?: (connection: number, run: number) => Request[];
  /** An API client that signs each request (docs/api-clients.md). */
  signedBy?: { id: number; secret: string };
}

const WARM_UP = 100;

/** Agents of new deployments, each registered through the API (anonymous POST /api/v1/agent/register), 8 at a time. */
async function registeredAgents(service: Service, pool: pg.Pool, count: number): Promise<Array<{ deploymentHash: string; headers: Record<string, string> }>> {
  const seeded = await seedAgents(pool, count, ['bench-cost'], { register: true });
  const registered = await registerEach(service.baseUrl, seeded.map((agent) => agent.hash), 8);
  return registered.map((agent) => ({ deploymentHash: agent.hash, headers: { 'x-agent-id': agent.agentId, authorization: `Bearer ${agent.token}` } }));
}

async function kinds(service: Service): Promise<Kind[]> {
  const pool = new pg.Pool({ connectionString: service.databaseUrl, max: 2 });
  try {
    const db = drizzle({ client: pool, schema }) as unknown as AnyDatabase;
    const { client: apiClient } = await createApiClient({ db, securityKey: service.securityKey, maxClientsPerUser: 2 }, 'bench-cost');
    // One agent per connection: an agent holds one wait at a time (a second ends the first with 409).
    const agents = (await seedAgents(pool, connections, ['bench-cost'])).map((agent) => ({
      deploymentHash: agent.hash,
      headers: { 'x-agent-id': agent.id, authorization: `Bearer ${agent.token}` },
    }));
    const agentHeaders = agents[0]!.headers;
    const waitPath = (hash: string) => `/api/v1/agent/commands/wait/${hash}?timeout=1`;
    const all: Kind[] = [
      { name: 'GET /health_check (anonymous)', path: '/health_check', headers: {} },
      { name: 'GET /whoami (user, cached introspection)', path: '/whoami', headers: { authorization: 'Bearer user-group_user-benchcost' } },
      {
        name: 'GET /whoami (HMAC client)',
        path: '/whoami',
        headers: {},
        // Each request signed afresh: a nonce is accepted once.
        signedBy: apiClient,
      },
      { name: 'GET /whoami (agent)', path: '/whoami', headers: agentHeaders },
      // The shortest wait (1 s) with nothing queued: an agent's idle poll, the bulk of the load run.
      {
        name: 'GET /api/v1/agent/commands/wait (agent, idle, 1 s)',
        path: waitPath(agents[0]!.deploymentHash),
        headers: agentHeaders,
        perConnection: (connection) => [{ path: waitPath(agents[connection % agents.length]!.deploymentHash), headers: agents[connection % agents.length]!.headers }],
      },
      // Each request the first poll of an agent that has just registered (the object primed by the
      // registration; the heartbeat due, written beside the wait): what a fleet starting costs.
      {
        name: 'GET /api/v1/agent/commands/wait (agent, first poll after registration, 1 s)',
        path: '',
        headers: {},
      },
    ];
    const chosen = all.filter((kind) => kind.name.includes(only));
    const firstPoll = chosen.find((kind) => kind.name.includes('first poll'));
    if (firstPoll) {
      // More than each connection's share, so that no connection polls with an agent twice.
      const share = (amount: number) => Math.ceil(amount / connections) + 2;
      const fresh = await registeredAgents(service, pool, (share(WARM_UP) + share(requests)) * connections);
      const warmUp = fresh.splice(0, share(WARM_UP) * connections);
      const pick = (from: typeof fresh, connection: number, count: number) =>
        from.slice(connection * count, (connection + 1) * count).map((agent) => ({ path: waitPath(agent.deploymentHash), headers: agent.headers }));
      Object.assign(firstPoll, { path: waitPath(warmUp[0]!.deploymentHash), headers: warmUp[0]!.headers });
      firstPoll.perConnection = (connection, run) => (run === 0 ? pick(warmUp, connection, share(WARM_UP)) : pick(fresh, connection, share(requests)));
    }
    return chosen;
  } finally {
    await pool.end();
  }
}

function load(baseUrl: string, kind: Kind, amount: number, run: number): Promise<autocannon.Result> {
  let next = 0;
  const setupClient = (client: autocannon.Client) => {
    const own = kind.perConnection?.(next++, run);
    if (own) client.setRequests(own.map((request) => ({ method: 'GET', path: request.path, headers: request.headers })));
    else if (kind.signedBy) client.setRequests([signedGet(kind.signedBy, kind.path)]);
  };
  return new Promise((resolve, reject) => {
    autocannon({ url: `${baseUrl}${kind.path}`, headers: kind.headers, connections, amount, timeout: 30, setupClient }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

/** Statements (in all and by text) and transactions the server has run so far (the benchmark's own reads excluded by the caller). */
async function counters(pool: pg.Pool): Promise<{ statements: number; transactions: number; byQuery: Map<string, number> }> {
  const { rows } = await pool.query<{ query: string; calls: string }>(`
    select s.query, sum(s.calls) as calls from pg_stat_statements s join pg_database d on d.oid = s.dbid
      where d.datname = current_database() and s.query not like '%pg_stat_%' group by s.query`);
  const byQuery = new Map(rows.map((row) => [row.query, Number(row.calls)]));
  const { rows: database } = await pool.query<{ transactions: string }>(
    `select xact_commit + xact_rollback as transactions from pg_stat_database where datname = current_database()`,
  );
  return { statements: [...byQuery.values()].reduce((sum, calls) => sum + calls, 0), transactions: Number(database[0]!.transactions), byQuery };
}

/** The statements run most often between two counters() reads, per request. */
function topStatements(before: Map<string, number>, after: Map<string, number>, requests: number): string {
  return [...after]
    .map(([query, calls]) => [query, calls - (before.get(query) ?? 0)] as const)
    .filter(([, calls]) => calls > 0)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 5)
    .map(([query, calls]) => `    ${(calls / requests).toFixed(2)} × ${query.replace(/\s+/g, ' ').slice(0, 140)}`)
    .join('\n');
}

async function measure(label: string, codeFrom: string | undefined): Promise<{ rows: string[]; failed: boolean; postgres: string }> {
  const service = await startService('bench_cost', RATE_LIMITS_OFF, {
    privatePostgres: { max_connections: connections * 4 + 50, shared_preload_libraries: 'pg_stat_statements', 'pg_stat_statements.track': 'all' },
    ...(codeFrom ? { codeFrom } : { snapshot: true }),
  });
  const rows: string[] = [];
  let failed = false;
  const stats = new pg.Pool({ connectionString: service.databaseUrl, max: 1 });
  try {
    await stats.query('create extension if not exists pg_stat_statements');
    for (const kind of await kinds(service)) {
      await load(service.baseUrl, kind, WARM_UP, 0);
      // Let the warm-up's waitUntil work and connection resets finish before counting.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const before = snapshot();
      const pgBefore = await counters(stats);
      const started = performance.now();
      const result = await load(service.baseUrl, kind, requests, 1);
      const seconds = (performance.now() - started) / 1000;
      const after = snapshot();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const pgAfter = await counters(stats);
      const statements = (pgAfter.statements - pgBefore.statements) / requests;
      // The first counters() read is itself two transactions.
      const transactions = (pgAfter.transactions - pgBefore.transactions - 2) / requests;
      const bad = result.non2xx + result.errors + result.timeouts;
      if (bad > 0) failed = true;
      const perRequest = cpuBetween(before, after, 1).map(([process, cpuSeconds]) => [process, (cpuSeconds * 1000) / requests] as const);
      const total = perRequest.reduce((sum, [, value]) => sum + value, 0);
      const worker = perRequest.find(([process]) => process === 'workerd')?.[1] ?? 0;
      const parts = perRequest.map(([process, value]) => `${process} ${value.toFixed(1)}`).join('; ');
      console.error(`[bench] ${label}: ${kind.name}: ${(requests / seconds).toFixed(0)} req/s, ${total.toFixed(1)} CPU ms/request (Worker ${worker.toFixed(1)}), PG ${statements.toFixed(2)} statements / ${transactions.toFixed(2)} transactions per request, ${bad} failed`);
      console.error(topStatements(pgBefore.byQuery, pgAfter.byQuery, requests));
      rows.push(`| ${kind.name} | ${(requests / seconds).toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} | ${bad} | ${worker.toFixed(1)} | ${total.toFixed(1)} | ${statements.toFixed(2)} | ${transactions.toFixed(2)} | ${parts} |`);
    }
  } finally {
    await stats.end();
    await service.stop();
  }
  return { rows, failed, postgres: service.postgres };
}

async function main(): Promise<number> {
  const machineLine = machine();
  console.error(`[bench] request-cost: ${requests} requests per kind, ${connections} in flight`);
  const runs: Array<{ label: string; codeFrom?: string }> = baseline ? [{ label: `baseline (${baseline})`, codeFrom: baseline }, { label: 'this tree' }] : [{ label: 'this tree' }];
  const results = [];
  for (const run of runs) results.push({ ...run, ...(await measure(run.label, run.codeFrom)) });
  console.log(`Machine: ${machineLine}`);
  console.log(`Command: ${command}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(`${requests} requests per kind, ${connections} in flight; ${results[0]!.postgres}`);
  for (const result of results) {
    console.log(`\n${result.label}:\n`);
    console.log('| request | requests/s | p50 ms | p99 ms | failed | Worker (workerd) CPU ms/request | CPU ms/request (all processes) | PG statements/request | PG transactions/request | CPU ms/request by process |');
    console.log('|---|--:|--:|--:|--:|--:|--:|--:|--:|---|');
    for (const row of result.rows) console.log(row);
  }
  return results.some((result) => result.failed) ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] request-cost failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
