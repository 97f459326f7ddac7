// An own server for Node tests, as a user without one tries it: `node scripts/try-server.ts --detach
// '<install command>'` runs the real install script (fetched by real curl from the running service)
// with a temporary folder as the server's `/` and the docker stand-in first on PATH, whose `docker run`
// of the agent image starts the agent stand-in (scripts/stand-ins/). No container runs.
import { spawn } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { processAlive, readRegistry } from '../../scripts/stand-ins/docker.ts';

const REPO = join(import.meta.dirname, '..', '..');
const STAND_INS = join(REPO, 'scripts', 'stand-ins');

export interface OwnServer {
  /** The stand-in server's `/` (STACKER_INSTALL_ROOT): the agent's env file, the stack's compose, the docker stand-in's records. */
  root: string;
  /** What try-server and the install script printed (stdout and stderr, in order). */
  output: string;
  /** Stops the agent stand-ins running under `root` (SIGTERM, as `docker stop`; SIGKILL after 10 s). The folder stays. */
  stop(): Promise<void>;
}

export interface InstallRun {
  code: number | null;
  output: string;
  /** The stand-in server's `/`; empty if try-server did not get as far as making it. */
  root: string;
}

/** An install command that exited non-zero (or started no agent): its exit code and what it printed. */
export class InstallFailed extends Error {
  readonly run: InstallRun;
  constructor(run: InstallRun) {
    super(`the install command exited with ${run.code}:\n${run.output}`);
    this.run = run;
  }
}

/**
 * Runs the install command on a new stand-in server through try-server and resolves once the command
 * has ended and the agent stand-in it started runs; rejects with InstallFailed otherwise.
 */
export async function startOwnServer(installCommand: string, options: { env?: Record<string, string> } = {}): Promise<OwnServer> {
  const run = await tryServer(installCommand, options);
  const server = { root: run.root, output: run.output, stop: () => stopAgents(run.root) };
  if (run.code !== 0 || !run.root || runningAgents(run.root).length === 0) {
    if (run.root) await server.stop();
    throw new InstallFailed(run);
  }
  return server;
}

/** `node scripts/try-server.ts --detach '<install command>'` on a new stand-in server, whatever its end. */
export function tryServer(installCommand: string, options: { env?: Record<string, string> } = {}): Promise<InstallRun> {
  return collect(process.execPath, [join(REPO, 'scripts', 'try-server.ts'), '--detach', installCommand], { ...process.env, ...options.env }).then((ran) => ({
    ...ran,
    root: /stand-in root \(the server's \/\): (.+)$/m.exec(ran.output)?.[1]?.trim() ?? '',
  }));
}

/**
 * The install command run again on a server that try-server made (as a user pastes a second command
 * on the same machine): `sh -c` with the same STACKER_INSTALL_ROOT and the docker stand-in first on PATH.
 */
export function runOnServer(root: string, installCommand: string): Promise<InstallRun> {
  const env = { ...process.env, STACKER_INSTALL_ROOT: root, PATH: [STAND_INS, process.env.PATH].filter(Boolean).join(delimiter) };
  return collect('sh', ['-c', installCommand], env).then((ran) => ({ ...ran, root }));
}

/** The agent stand-ins alive under a stand-in server's root: their container name and pid. */
export function runningAgents(root: string): Array<{ name: string; pid: number }> {
  return readRegistry(root)
    .filter((record) => record.pid !== null && processAlive(record.pid))
    .map((record) => ({ name: record.name, pid: record.pid! }));
}

async function stopAgents(root: string): Promise<void> {
  for (const agent of runningAgents(root)) {
    try {
      process.kill(agent.pid, 'SIGTERM');
    } catch {
      continue; // gone meanwhile
    }
    const deadline = Date.now() + 10_000;
    while (processAlive(agent.pid) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 25));
    if (processAlive(agent.pid)) process.kill(agent.pid, 'SIGKILL');
  }
}

function collect(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += String(chunk)));
    child.stderr.on('data', (chunk) => (output += String(chunk)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
