// npm start: the whole local service in one command.
//   DATABASE_URL unset -> embedded PGlite kept in .data/pglite, served over a local socket.
//   Then: migrations, the WebSocket proxy the Neon driver needs, and `wrangler dev` on PORT.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { migrateDatabase } from '../db/migrate.ts';
import { startPgWsProxy, type PgWsProxy } from './pg-ws-proxy.ts';
import { loadLocalSettings, toDotenv } from './local-config.ts';

const dataDir = process.env.STACKER_DATA_DIR || '.data';
const cleanups: Array<() => Promise<void>> = [];
let wrangler: ChildProcess | undefined;
let stopping = false;

function say(message: string) {
  console.log(`[stacker] ${message}`);
}

async function startEmbeddedDatabase(): Promise<string> {
  const { PGlite } = await import('@electric-sql/pglite');
  const { PGLiteSocketServer } = await import('@electric-sql/pglite-socket');
  mkdirSync(dataDir, { recursive: true });
  say(`starting the embedded database in ${join(dataDir, 'pglite')} ...`);
  const db = await PGlite.create(join(dataDir, 'pglite'));
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: 0, maxConnections: 100 });
  await server.start();
  cleanups.push(async () => {
    await server.stop();
    await db.close();
  });
  const address = server.getServerConn();
  return `postgres://postgres@${address}/postgres`;
}

async function main() {
  const settings = loadLocalSettings();
  const port = Number(settings.PORT ?? 8000);

  const embedded = !settings.DATABASE_URL;
  if (!settings.DATABASE_URL) settings.DATABASE_URL = await startEmbeddedDatabase();
  else say('using the database at DATABASE_URL');

  say('applying migrations ...');
  await migrateDatabase(settings.DATABASE_URL);

  const target = new URL(settings.DATABASE_URL);
  const proxy: PgWsProxy = await startPgWsProxy({
    allowedTargets: [`${target.hostname}:${target.port || '5432'}`],
    // Backends are kept between requests, as Neon's pooler does; not with PGlite, whose connections
    // all share its one session.
    pool: !embedded,
  });
  cleanups.push(() => proxy.close());
  settings.DATABASE_WS_PROXY = proxy.address;

  // wrangler does not pass the process environment to the Worker: hand it the settings in a
  // private env file (mode 600, under the git-ignored .data/).
  mkdirSync(dataDir, { recursive: true });
  const envFile = join(dataDir, 'wrangler.env');
  writeFileSync(envFile, toDotenv(settings), { mode: 0o600 });
  chmodSync(envFile, 0o600);

  say(`starting the Worker (wrangler dev) on port ${port} ...`);
  wrangler = spawn(
    'wrangler',
    [
      'dev',
      '--ip', '127.0.0.1',
      '--port', String(port),
      '--env-file', envFile,
      '--persist-to', join(dataDir, 'wrangler'),
      '--show-interactive-dev-session=false',
      '--log-level', 'warn',
    ],
    {
      stdio: ['ignore', 'inherit', 'inherit'],
      detached: true,
      env: {
        // wrangler's local trace store: every request's trace streamed into a Durable Object on disk
        // inside the Worker's own workerd. Off unless asked for: it costs CPU and memory per request,
        // and under load it stalled the Worker for ~20 s (BENCHMARKS.md, "Load and soak").
        X_LOCAL_OBSERVABILITY: 'false',
        ...process.env,
        // No outbound calls to Cloudflare from a local run (the machine may have no internet).
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_SEND_METRICS: 'false',
      },
    },
  );
  wrangler.on('exit', (code) => {
    if (!stopping) {
      say(`wrangler exited (${code ?? 'signal'}); stopping`);
      void shutdown(code ?? 1);
    }
  });

  await waitForHealth(port);
  say(`listening on http://127.0.0.1:${port} (health: /health_check, API document: /openapi.json). Ctrl-C stops.`);
}

async function waitForHealth(port: number) {
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline && !stopping) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health_check`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  if (!stopping) throw new Error(`the Worker did not answer on port ${port} within 120 s`);
}

async function shutdown(code: number) {
  if (stopping) return;
  stopping = true;
  if (wrangler?.pid && wrangler.exitCode === null) {
    const exited = new Promise((resolve) => wrangler!.once('exit', resolve));
    try {
      process.kill(-wrangler.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5_000))]);
    try {
      process.kill(-wrangler.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  process.exit(code);
}

process.on('SIGINT', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));

main().catch((error) => {
  console.error(`[stacker] start failed: ${error instanceof Error ? error.message : String(error)}`);
  void shutdown(1);
});
