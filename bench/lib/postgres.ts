// A private PostgreSQL server for one benchmark: a fresh cluster (initdb) in a temporary directory,
// on a free loopback port, with the settings the benchmark needs (e.g. more max_connections than the
// machine's shared server allows), stopped and removed at the end. The binaries are those on PATH
// (initdb, postgres), or in BENCH_PG_BINDIR. PostgreSQL refuses to run as root: as root, the server
// runs as the `postgres` user (runuser), which must exist.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export interface PrivatePostgres {
  /** postgres://postgres@127.0.0.1:<port>/postgres (trust authentication, loopback only). */
  url: string;
  stop(): Promise<void>;
}

function binary(name: string): string {
  return process.env.BENCH_PG_BINDIR ? join(process.env.BENCH_PG_BINDIR, name) : name;
}

/** The command line, run as the postgres user when this process is root. */
function asServerUser(command: string[]): string[] {
  if (userInfo().uid !== 0) return command;
  return ['runuser', '-u', 'postgres', '--', ...command];
}

export async function startPrivatePostgres(options: { port: number; settings: Record<string, string | number> }): Promise<PrivatePostgres> {
  const dir = mkdtempSync('/tmp/stacker-bench-pg-');
  const data = join(dir, 'data');
  if (userInfo().uid === 0) {
    const ids = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gids = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (ids.status !== 0) throw new Error('running as root, and there is no postgres user to run a private PostgreSQL as');
    chownSync(dir, Number(ids.stdout.trim()), Number(gids.stdout.trim()));
  }
  chmodSync(dir, 0o700);
  const removeDir = () => rm(dir, { recursive: true, force: true });

  const [initCommand, ...initArgs] = asServerUser([binary('initdb'), '-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const init = spawnSync(initCommand!, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) {
    await removeDir();
    throw new Error(`initdb failed (${init.status}): ${init.stderr || init.stdout || String(init.error)}`);
  }

  const settings = { listen_addresses: '127.0.0.1', port: options.port, unix_socket_directories: dir, ...options.settings };
  const [serverCommand, ...serverArgs] = asServerUser([
    binary('postgres'),
    '-D',
    data,
    ...Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`]),
  ]);
  // Many connections need many open files in the server too.
  const server: ChildProcess = spawn(
    '/bin/sh',
    ['-c', 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"', serverCommand!, ...serverArgs],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: true },
  );
  let log = '';
  server.stderr!.on('data', (chunk: Buffer) => {
    log = (log + chunk.toString()).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));

  const stop = async () => {
    if (server.exitCode === null && server.signalCode === null) {
      try {
        process.kill(-server.pid!, 'SIGINT'); // fast shutdown
      } catch {
        // already gone
      }
      const timer = setTimeout(() => {
        try {
          process.kill(-server.pid!, 'SIGKILL');
        } catch {
          // already gone
        }
      }, 15_000);
      await exited;
      clearTimeout(timer);
    }
    await removeDir();
  };

  const url = `postgres://postgres@127.0.0.1:${options.port}/postgres`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (server.exitCode !== null || server.signalCode !== null) {
      await removeDir();
      throw new Error(`the private PostgreSQL exited: ${log.trim()}`);
    }
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      return { url, stop };
    } catch {
      await client.end().catch(() => undefined);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`the private PostgreSQL did not accept connections within 30 s: ${log.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
