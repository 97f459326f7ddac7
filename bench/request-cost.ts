// CPU per request, by process, on the real local service: what one request of each kind costs the
// Worker (workerd), wrangler's dev proxy, the WebSocket proxy, PostgreSQL and the client. The load run
// (bench/load) is bound by this sum on a 2-core machine; this is the figure to move when it falls short.
//   node bench/request-cost.ts [--requests 2000] [--connections 20]
//   (or BENCH_REQUESTS, BENCH_CONNECTIONS)
// Each kind: a warm-up of 100 requests, then --requests at --connections in flight, every answer a 200.
// CPU is read from /proc for every process of the service and its private PostgreSQL (rate limits off,
// so every request is served).
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { AnyDatabase } from '../db/client.ts';
import * as schema from '../db/schema.ts';
import { createApiClient } from '../functions/services/api-clients.ts';
import { hmacSha256Hex } from '../functions/services/crypto.ts';
import { seedAgents } from './load/agents.ts';
import { cpuBetween, snapshot } from './load/processes.ts';
import { machine, RATE_LIMITS_OFF, startService, type Service } from './lib/service.ts';

function settings() {
  const usage = 'usage: node bench/request-cost.ts [--requests n] [--connections n]';
  try {
    const { values } = parseArgs({ options: { requests: { type: 'string' }, connections: { type: 'string' } } });
    const requests = Number(values.requests ?? process.env.BENCH_REQUESTS ?? 2000);
    const connections = Number(values.connections ?? process.env.BENCH_CONNECTIONS ?? 20);
    if ([requests, connections].every((n) => Number.isInteger(n) && n > 0)) return { requests, connections };
    console.error(`${usage} (whole numbers above 0)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const { requests, connections } = settings();
const command = [
  ...['BENCH_REQUESTS', 'BENCH_CONNECTIONS'].flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : [])),
  'node bench/request-cost.ts',
  ...process.argv.slice(2),
].join(' ');

interface Kind {
  name: string;
  path: string;
  headers: Record<string, string>;
  /** Other headers per connection (each of --connections agents waits on its own deployment). */
  perConnection?: Array<{ path: string; headers: Record<string, string> }>;
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
    return [
      { name: 'GET /health_check (anonymous)', path: '/health_check', headers: {} },
      { name: 'GET /whoami (user, cached introspection)', path: '/whoami', headers: { authorization: 'Bearer user-group_user-benchcost' } },
      {
        name: 'GET /whoami (HMAC client)',
        path: '/whoami',
        headers: { 'stacker-id': String(apiClient.id), 'stacker-hash': await hmacSha256Hex(apiClient.secret, new Uint8Array()) },
      },
      { name: 'GET /whoami (agent)', path: '/whoami', headers: agentHeaders },
      // The shortest wait (1 s) with nothing queued: an agent's idle poll, the bulk of the load run.
      {
        name: 'GET /api/v1/agent/commands/wait (agent, idle, 1 s)',
        path: waitPath(agents[0]!.deploymentHash),
        headers: agentHeaders,
        perConnection: agents.map((agent) => ({ path: waitPath(agent.deploymentHash), headers: agent.headers })),
      },
    ];
  } finally {
    await pool.end();
  }
}

function load(baseUrl: string, kind: Kind, amount: number): Promise<autocannon.Result> {
  let next = 0;
  const setupClient = (client: autocannon.Client) => {
    const own = kind.perConnection?.[next++ % kind.perConnection.length];
    if (own) client.setRequests([{ method: 'GET', path: own.path, headers: own.headers }]);
  };
  return new Promise((resolve, reject) => {
    autocannon({ url: `${baseUrl}${kind.path}`, headers: kind.headers, connections, amount, timeout: 30, setupClient }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

async function main(): Promise<number> {
  const machineLine = machine();
  console.error(`[bench] request-cost: ${requests} requests per kind, ${connections} in flight`);
  const service = await startService('bench_cost', RATE_LIMITS_OFF, { privatePostgres: { max_connections: connections * 4 + 50 } });
  const rows: string[] = [];
  let failed = false;
  try {
    for (const kind of await kinds(service)) {
      await load(service.baseUrl, kind, 100);
      const before = snapshot();
      const started = performance.now();
      const result = await load(service.baseUrl, kind, requests);
      const seconds = (performance.now() - started) / 1000;
      const after = snapshot();
      const bad = result.non2xx + result.errors + result.timeouts;
      if (bad > 0) failed = true;
      const perRequest = cpuBetween(before, after, 1).map(([process, cpuSeconds]) => [process, (cpuSeconds * 1000) / requests] as const);
      const total = perRequest.reduce((sum, [, value]) => sum + value, 0);
      const parts = perRequest.map(([process, value]) => `${process} ${value.toFixed(1)}`).join('; ');
      console.error(`[bench] ${kind.name}: ${(requests / seconds).toFixed(0)} req/s, ${total.toFixed(1)} CPU ms/request, ${bad} failed`);
      rows.push(`| ${kind.name} | ${(requests / seconds).toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} | ${bad} | ${total.toFixed(1)} | ${parts} |`);
    }
  } finally {
    await service.stop();
  }
  console.log(`Machine: ${machineLine}`);
  console.log(`Command: ${command}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(`${requests} requests per kind, ${connections} in flight; ${service.postgres}\n`);
  console.log('| request | requests/s | p50 ms | p99 ms | failed | CPU ms/request (all processes) | CPU ms/request by process |');
  console.log('|---|--:|--:|--:|--:|--:|---|');
  for (const row of rows) console.log(row);
  return failed ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] request-cost failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
