// The local WebSocket proxy's pooling (what Neon's pooler does in production): a backend a client
// left idle serves the next client, reset; anything else is never handed on.
import { Client, neonConfig } from '@neondatabase/serverless';
import { createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { startPgWsProxy, type PgWsProxy } from '../../scripts/pg-ws-proxy.ts';
import { createScratchDatabase, withClient } from './helpers.ts';

let database: { url: string; drop: () => Promise<void> };
let proxy: PgWsProxy;

beforeAll(async () => {
  database = await createScratchDatabase('stacker_pgproxy');
  proxy = await startPgWsProxy({ pool: true });
  neonConfig.webSocketConstructor = WebSocket;
  neonConfig.useSecureWebSocket = false;
  neonConfig.pipelineTLS = false;
  neonConfig.pipelineConnect = false;
  neonConfig.wsProxy = (host, port) => `${proxy.address}/v1?address=${host}:${port}`;
});

afterAll(async () => {
  await proxy?.close();
  await database?.drop();
});

async function connect(url = database.url): Promise<Client> {
  const client = new Client({ connectionString: url });
  await client.connect();
  return client;
}

const backendPid = async (client: Client) => (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;

/** Resolves once pg_stat_activity shows `wanted` rows for the backend (`where` narrows the row). */
async function activityOf(pid: number, wanted: 0 | 1, where = 'true'): Promise<void> {
  await withClient(database.url, async (admin) => {
    while ((await admin.query(`select 1 from pg_stat_activity where pid = $1 and ${where}`, [pid])).rowCount !== wanted) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  });
}

/** Resolves once PostgreSQL has ended a backend (never, if the proxy kept it). */
const backendGone = (pid: number) => activityOf(pid, 0);

/** The WebSocket closes with no Terminate, as when a request ends without closing its connection. */
const dropConnection = (client: Client) => (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();

/** Resolves once the proxy holds `count` idle backends (a client's leaving is handled after its end() returns). */
async function idleBackends(count: number): Promise<void> {
  while (proxy.stats().idle !== count) await new Promise((resolve) => setImmediate(resolve));
}

describe('pg-ws-proxy with pool', () => {
  it('hands a backend its client left idle to the next client, with the session reset', async () => {
    await idleBackends(0);
    const first = await connect();
    const pid = await backendPid(first);
    await first.query("set application_name = 'left-behind'");
    await first.query('create temporary table scratch (id int)');
    await first.query("select pg_advisory_lock(42)");
    const reusedBefore = proxy.stats().reused;
    await first.end();
    await idleBackends(1);

    const second = await connect();
    expect(await backendPid(second)).toBe(pid);
    expect(proxy.stats().reused).toBe(reusedBefore + 1);
    const { rows } = await second.query<{ name: string; temp: string | null; locks: string }>(
      "select current_setting('application_name') as name, to_regclass('pg_temp.scratch')::text as temp, (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())::text as locks",
    );
    expect(rows[0]).toEqual({ name: expect.not.stringMatching('left-behind'), temp: null, locks: '0' });
    await second.end();
    await idleBackends(1); // settled: the next test starts with exactly this backend kept
  });

  it('never hands on a backend left inside a transaction; the transaction is rolled back', async () => {
    const first = await connect();
    await first.query('create table if not exists kept (id int)');
    const pid = await backendPid(first);
    await first.query('begin');
    await first.query('insert into kept values (1)');
    first.on('error', () => undefined);
    dropConnection(first); // the request ended without COMMIT

    await backendGone(pid);
    expect(await withClient(database.url, async (admin) => (await admin.query('select count(*)::int as n from kept')).rows[0].n)).toBe(0);
    const second = await connect();
    expect(await backendPid(second)).not.toBe(pid);
    await second.end();
    await idleBackends(1); // settled: the next test starts with exactly this backend kept
  });

  it('never hands on a backend with a query still running when its client left', async () => {
    const first = await connect();
    const pid = await backendPid(first);
    first.on('error', () => undefined);
    const running = first.query('select pg_sleep(0.5)').catch(() => undefined);
    await activityOf(pid, 1, "query like 'select pg_sleep%'"); // the query reached PostgreSQL
    dropConnection(first);
    await running;
    await backendGone(pid);
    const second = await connect();
    expect(await backendPid(second)).not.toBe(pid);
    await second.end();
    await idleBackends(1); // settled: the next test starts with exactly this backend kept
  });

  it('replaces a kept backend that PostgreSQL ended while it was idle', async () => {
    const first = await connect();
    const pid = await backendPid(first);
    await first.end();
    await idleBackends(1);
    await withClient(database.url, (admin) => admin.query('select pg_terminate_backend($1)', [pid]));
    await idleBackends(0);
    const second = await connect();
    expect(await backendPid(second)).not.toBe(pid);
    expect((await second.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await second.end();
  });
});

describe('pg-ws-proxy with pool, a server that asks for a password', () => {
  let server: Server;
  let connections = 0;
  const closed: Array<Promise<void>> = [];
  const message = (type: string, payload: Buffer) => {
    const header = Buffer.alloc(5);
    header.write(type, 0, 'latin1');
    header.writeInt32BE(4 + payload.length, 1);
    return Buffer.concat([header, payload]);
  };
  const int32 = (value: number) => {
    const bytes = Buffer.alloc(4);
    bytes.writeInt32BE(value);
    return bytes;
  };

  beforeAll(async () => {
    // Just enough of a PostgreSQL server: cleartext password, then an idle session that answers
    // any query with an empty result.
    server = createServer((socket: Socket) => {
      connections++;
      closed.push(new Promise((resolve) => socket.once('close', () => resolve())));
      let startup = true;
      socket.on('data', (data: Buffer) => {
        if (startup) {
          startup = false;
          socket.write(message('R', int32(3))); // AuthenticationCleartextPassword
          return;
        }
        for (let offset = 0; offset < data.length; offset += 1 + data.readInt32BE(offset + 1)) {
          const type = String.fromCharCode(data[offset]!);
          if (type === 'p') socket.write(Buffer.concat([message('R', int32(0)), message('Z', Buffer.from('I'))]));
          if (type === 'Q') socket.write(Buffer.concat([message('I', Buffer.alloc(0)), message('Z', Buffer.from('I'))]));
          if (type === 'X') socket.end();
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('opens a new backend for every client, so each one proves its password', async () => {
    const address = server.address() as { port: number };
    const url = `postgres://someone:secret@127.0.0.1:${address.port}/db`;
    for (let i = 0; i < 2; i++) {
      const client = await connect(url);
      await client.query('');
      await client.end();
      await closed[i]; // never, if the proxy had kept it
    }
    expect(connections).toBe(2);
  });
});

describe('pg-ws-proxy and web pages', () => {
  /** The upgrade's answer: 101 when the proxy took the WebSocket, else the status it refused it with. */
  function upgrade(headers: Record<string, string>): Promise<number> {
    const target = new URL(database.url);
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(`ws://${proxy.address}/v1?address=${target.hostname}:${target.port}`, { headers });
      socket.once('open', () => {
        socket.close();
        resolve(101);
      });
      socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
      socket.once('error', reject);
    });
  }

  it('refuses an upgrade that carries an Origin header, so a page in a browser cannot reach the password-less database', async () => {
    expect(await upgrade({ origin: 'https://attacker.example' })).toBe(403);
    expect(await upgrade({ origin: 'http://127.0.0.1:8000' })).toBe(403);
    expect(await upgrade({ origin: 'null' })).toBe(403);
    // workerd's Neon driver and node clients send none.
    expect(await upgrade({})).toBe(101);
  });
});
