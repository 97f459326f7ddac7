// Requests per second of GET /whoami (an authenticated no-op) for each authentication method, against
// the same route anonymously, on the real local service (wrangler dev + PostgreSQL).
//   node bench/auth.ts [--duration 10] [--connections 10] [--warmup 2]
//   (or BENCH_DURATION, BENCH_CONNECTIONS, BENCH_WARMUP; seconds)
import autocannon from 'autocannon';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import { importJWK, SignJWT } from 'jose';
import pg from 'pg';
import type { AnyDatabase } from '../db/client.ts';
import * as schema from '../db/schema.ts';
import { createApiClient } from '../functions/services/api-clients.ts';
import { signedClientHeaders, signedGet } from './lib/client-signing.ts';
import { JWT_KEY_ID, OAUTH_AUDIENCE, OAUTH_ISSUER } from '../tests/stubs/oauth.ts';
import { seedAgents } from './load/agents.ts';
import { machine, RATE_LIMITS_OFF, startService, type Service } from './lib/service.ts';

function settings() {
  const usage = 'usage: node bench/auth.ts [--duration s] [--connections n] [--warmup s]';
  try {
    const { values } = parseArgs({
      options: { duration: { type: 'string' }, connections: { type: 'string' }, warmup: { type: 'string' } },
    });
    const duration = Number(values.duration ?? process.env.BENCH_DURATION ?? 10);
    const connections = Number(values.connections ?? process.env.BENCH_CONNECTIONS ?? 10);
    const warmup = Number(values.warmup ?? process.env.BENCH_WARMUP ?? 2);
    if ([duration, connections].every((n) => Number.isInteger(n) && n > 0) && Number.isInteger(warmup) && warmup >= 0) {
      return { duration, connections, warmup };
    }
    console.error(`${usage} (whole numbers; duration and connections above 0)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const { duration, connections, warmup } = settings();
const command = [
  ...['BENCH_DURATION', 'BENCH_CONNECTIONS', 'BENCH_WARMUP'].flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : [])),
  'node bench/auth.ts',
  ...process.argv.slice(2),
].join(' ');

interface Method {
  name: string;
  headers: Record<string, string>;
  /** Headers made afresh for each request (an API client's signature: a new nonce each time). */
  signed?: { id: number; secret: string };
  /** What GET /whoami must answer with these headers. */
  expect: { kind: string; user_id?: string };
}

/** One credential of each kind, for users and rows created in the service's scratch database. */
async function credentials(service: Service): Promise<Method[]> {
  const pool = new pg.Pool({ connectionString: service.databaseUrl, max: 2 });
  try {
    const db = drizzle({ client: pool, schema }) as unknown as AnyDatabase;
    const { client: apiClient } = await createApiClient({ db, securityKey: service.securityKey, maxClientsPerUser: 2 }, 'bench-hmac');

    const [agent] = await seedAgents(pool, 1, ['bench-agent']);

    const jwt = await new SignJWT({ role: 'group_user', email: 'bench-jwt@example.test' })
      .setProtectedHeader({ alg: 'RS256', kid: JWT_KEY_ID })
      .setSubject('bench-jwt')
      .setIssuedAt()
      .setIssuer(OAUTH_ISSUER)
      .setAudience(OAUTH_AUDIENCE)
      .setExpirationTime('2h')
      .sign(await importJWK(service.oauth.privateJwk, 'RS256'));

    return [
      { name: 'anonymous', headers: {}, expect: { kind: 'anonymous' } },
      { name: 'JWT', headers: { authorization: `Bearer ${jwt}` }, expect: { kind: 'user', user_id: 'bench-jwt' } },
      {
        name: 'introspection (cached)',
        headers: { authorization: 'Bearer user-group_user-bench1' },
        expect: { kind: 'user', user_id: 'bench1' },
      },
      {
        name: 'HMAC',
        headers: {},
        signed: apiClient,
        expect: { kind: 'client', user_id: 'bench-hmac' },
      },
      { name: 'agent', headers: { 'x-agent-id': agent!.id, authorization: `Bearer ${agent!.token}` }, expect: { kind: 'agent' } },
    ];
  } finally {
    await pool.end();
  }
}

/** One request first: the credential must be accepted as what it is (this also fills the caches). */
async function check(url: string, method: Method): Promise<void> {
  const headers = method.signed ? signedClientHeaders(method.signed, 'GET', new URL(url).pathname) : method.headers;
  const response = await fetch(url, { headers });
  const body = (await response.json()) as { item?: Record<string, unknown> };
  const wrong = Object.entries(method.expect).find(([key, value]) => body.item?.[key] !== value);
  if (response.status !== 200 || wrong) throw new Error(`${method.name}: GET /whoami answered ${response.status} ${JSON.stringify(body)}`);
}

interface Row {
  name: string;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
}

function load(url: string, method: Method, seconds: number): Promise<autocannon.Result> {
  const requests = method.signed ? [signedGet(method.signed, new URL(url).pathname)] : undefined;
  return new Promise((resolve, reject) => {
    autocannon({ url, headers: method.headers, requests, connections, duration: seconds }, (error, result) => (error ? reject(error) : resolve(result)));
  });
}

async function main(): Promise<number> {
  const machineLine = machine(); // before the load: its load average tells whether the machine was idle
  console.error(`[bench] auth: ${duration} s per method (after ${warmup} s warm-up), ${connections} connections`);
  const service = await startService('bench_auth', RATE_LIMITS_OFF);
  try {
    const url = `${service.baseUrl}/whoami`;
    const rows: Row[] = [];
    for (const method of await credentials(service)) {
      await check(url, method);
      if (warmup > 0) await load(url, method, warmup);
      const result = await load(url, method, duration);
      rows.push({
        name: method.name,
        rps: result.requests.average,
        p50: result.latency.p50,
        p99: result.latency.p99,
        non2xx: result.non2xx,
        errors: result.errors,
      });
      console.error(`[bench] ${method.name}: ${result.requests.average} req/s, ${result.non2xx} non-2xx, ${result.errors} errors`);
    }
    const hits = (await (await fetch(`${service.oauth.url}/hits?token=user-group_user-bench1`)).json()) as { hits: number };

    const anonymous = rows[0]!.rps;
    const failed = rows.filter((row) => row.non2xx > 0 || row.errors > 0);
    console.log(`Machine: ${machineLine}`);
    console.log(`Command: ${command}`);
    console.log(`Date: ${new Date().toISOString()}`);
    console.log(`GET /whoami, ${connections} connections, ${duration} s per method after a ${warmup} s warm-up\n`);
    console.log('| method | requests/s | p50 ms | p99 ms | non-2xx | errors | ratio to anonymous |');
    console.log('|---|--:|--:|--:|--:|--:|--:|');
    for (const row of rows) {
      const ratio = failed.includes(row) ? 'FAILED' : (row.rps / anonymous).toFixed(2);
      console.log(`| ${row.name} | ${row.rps.toFixed(0)} | ${row.p50} | ${row.p99} | ${row.non2xx} | ${row.errors} | ${ratio} |`);
    }
    console.log(`\nIntrospection calls that reached the OAuth server: ${hits.hits}`);
    if (failed.length) console.error(`[bench] failed: ${failed.map((row) => row.name).join(', ')}`);
    return failed.length ? 1 : 0;
  } finally {
    await service.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] auth failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
