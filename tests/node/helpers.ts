import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, chmodSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import { createServer } from 'node:net';
import pg from 'pg';
import { BUNDLE_ENV, bundleReady } from './worker-bundle.ts';

/** The run's PostgreSQL, read when used: the global setup's process imports this module before it finds the server. */
const adminDatabaseUrl = () => process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A new, empty database on the test PostgreSQL; `drop` removes it. */
export async function createScratchDatabase(prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${Date.now()}_${randomBytes(3).toString('hex')}`;
  await withClient(adminDatabaseUrl(), (client) => client.query(`create database ${name}`));
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: () => withClient(adminDatabaseUrl(), (client) => client.query(`drop database if exists ${name} with (force)`)).then(() => undefined),
  };
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

export interface RunningStart {
  port: number;
  /** Everything npm start printed so far. */
  output: () => string;
  /** Ctrl-C, as the terminal sends it to the foreground group; resolves with the exit code. */
  stop: () => Promise<number | null>;
  /** Where a GET runs the Worker's scheduled handler: `wrangler dev --test-scheduled`'s path, or Miniflare's. */
  scheduledPath: string;
}

/**
 * `npm start` (scripts/start.ts) on a free port (or extraEnv.PORT: e.g. a restart that the agents
 * must find again) and the given data folder, with no DATABASE_URL unless extraEnv names one. A
 * port found free can be taken by another test's server before wrangler binds it: then again, on
 * another port (a few times).
 *
 * The Worker is served by Miniflare from the run's one bundle (tests/node/worker-bundle.ts), unless
 * `host: 'wrangler'` asks for `wrangler dev`, as a person's `npm start` runs it.
 *
 * `database: 'scratch'`: a new database on the run's PostgreSQL (dropped after the stop) instead of
 * npm start's own embedded one, whose initdb and server cost ~2 s of CPU per start; for the files
 * that test what runs on npm start, not npm start's database (start.test.ts, the README tour and
 * the deploy engine's restart keep the embedded one).
 */
export async function startLocalService(
  dataDir: string,
  extraEnv: NodeJS.ProcessEnv = {},
  options: { host?: 'wrangler' | 'bundle'; database?: 'embedded' | 'scratch'; logFile?: string } = {},
): Promise<RunningStart> {
  reachableByPostgres(dataDir);
  const bundleDir = process.env[BUNDLE_ENV];
  const hostEnv: NodeJS.ProcessEnv =
    options.host === 'wrangler' || !bundleDir
      ? { STACKER_WORKER_HOST: 'wrangler', STACKER_WORKER_BUNDLE: undefined }
      : { STACKER_WORKER_HOST: 'miniflare', STACKER_WORKER_BUNDLE: await bundleReady(bundleDir) };
  const scratch = options.database === 'scratch' && !extraEnv.DATABASE_URL ? await createScratchDatabase('stacker_journey') : undefined;
  for (let attempt = 1; ; attempt++) {
    try {
      const running = await startLocalServiceOnce(dataDir, { ...hostEnv, ...(scratch ? { DATABASE_URL: scratch.url } : {}), ...extraEnv }, options.logFile);
      if (!scratch) return running;
      return {
        ...running,
        stop: async () => {
          const code = await running.stop();
          await scratch.drop();
          return code;
        },
      };
    } catch (error) {
      if (attempt >= 3 || !(error instanceof Error) || !/Address already in use/.test(error.message)) {
        await scratch?.drop();
        throw error;
      }
    }
  }
}

/**
 * Run as root, npm start's PostgreSQL runs as the user postgres (it refuses root), which must reach the
 * data folder: the tests' temporary folders (mkdtemp makes them 0700) are opened to others for that.
 */
function reachableByPostgres(dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  mkdirSync(dataDir, { recursive: true });
  for (let dir = resolve(dataDir); dir.startsWith(`${tmpdir()}${sep}`); dir = dirname(dir)) chmodSync(dir, statSync(dir).mode | 0o055);
}

async function startLocalServiceOnce(dataDir: string, extraEnv: NodeJS.ProcessEnv, logFile?: string): Promise<RunningStart> {
  const port = extraEnv.PORT ? Number(extraEnv.PORT) : await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), STACKER_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  // DATABASE_URL only when the caller names one (a scratch database): else the embedded PostgreSQL.
  Object.assign(env, extraEnv);
  const child = spawn(process.execPath, ['scripts/start.ts'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  // A copy of what it prints for readers in other processes (tests/node/shared-start.ts).
  const keep = (chunk: unknown) => {
    output += String(chunk);
    if (logFile) appendFileSync(logFile, String(chunk));
  };
  child.stderr.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const listening = await new Promise<boolean>((resolve) => {
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      if (output.includes(`listening on http://127.0.0.1:${port}`)) resolve(true);
    });
    void exited.then(() => resolve(false));
  });
  if (!listening) throw new Error(`npm start did not start:\n${output}`);
  let stopping = false;
  // A service that ends while its test still uses it says why, where the test's failure is read.
  void exited.then((code) => {
    if (!stopping) console.error(`npm start on port ${port} exited (${code}) while its test used it; it printed:\n${output.slice(-6000)}`);
  });
  return {
    port,
    scheduledPath: env.STACKER_WORKER_HOST === 'miniflare' ? '/cdn-cgi/local/scheduled' : '/__scheduled',
    output: () => output,
    stop: async () => {
      stopping = true;
      if (child.exitCode === null) process.kill(-child.pid!, 'SIGINT');
      return exited;
    },
  };
}

export interface StackerRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface StackerProcess {
  child: ChildProcess;
  /** What it printed so far. */
  run: StackerRun;
  /** Once it exited: its code and everything it printed. */
  done: Promise<StackerRun>;
}

const stackerBin = join(import.meta.dirname, '..', '..', 'cli', 'stacker', 'bin.js');

/** Set by the node project's global setup: the CLI bundled into one module (scripts/bundle-cli.ts). */
export const CLI_BUNDLE_ENV = 'STACKER_TEST_CLI_BUNDLE';

/**
 * The `stacker` command as a person runs it against `url`: its own config folder (`xdg`), no colour,
 * no STACKER_TOKEN from this environment, the project's node_modules/.bin first on PATH; `env` adds or
 * overrides, `input` is its standard input (closed either way).
 *
 * It runs the run's bundle of the CLI (half the CPU of a start from the source: the suite is
 * CPU-bound) when the global setup made one, else cli/stacker/bin.js; stacker-cli.test.ts and
 * stacker-cli-terminal.test.ts run bin.js itself.
 */
export function spawnStacker(args: string[], options: { url: string; xdg: string; cwd: string; env?: NodeJS.ProcessEnv; input?: string }): StackerProcess {
  const env: NodeJS.ProcessEnv = { ...process.env, STACKER_URL: options.url, XDG_CONFIG_HOME: options.xdg, NO_COLOR: '1' };
  delete env.STACKER_TOKEN;
  Object.assign(env, options.env);
  env.PATH = `${join(import.meta.dirname, '..', '..', 'node_modules', '.bin')}:${env.PATH}`;
  const bundle = process.env[CLI_BUNDLE_ENV];
  const child = bundle ? spawn(process.execPath, [bundle, ...args], { cwd: options.cwd, env }) : spawn(stackerBin, args, { cwd: options.cwd, env });
  child.stdin!.end(options.input);
  const run: StackerRun = { code: null, stdout: '', stderr: '' };
  child.stdout!.on('data', (chunk) => (run.stdout += String(chunk)));
  child.stderr!.on('data', (chunk) => (run.stderr += String(chunk)));
  const done = new Promise<StackerRun>((resolve) => child.on('close', (code) => resolve({ ...run, code })));
  return { child, run, done };
}

/** Resolves with the first match of `pattern` in what the process printed so far or prints next; rejects if it exits first. */
export function printedBy(process_: StackerProcess, pattern: RegExp): Promise<RegExpExecArray> {
  const { child, run } = process_;
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(run.stdout);
      if (match) resolve(match);
      return Boolean(match);
    };
    if (check()) return;
    child.stdout!.on('data', () => setImmediate(check));
    child.once('close', () => setImmediate(() => check() || reject(new Error(`exited before printing ${pattern}:\n${run.stdout}\n${run.stderr}`))));
  });
}
