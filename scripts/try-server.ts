// Tries an install command (what a user pastes on their server to start the agent) on this machine,
// with stand-ins instead of a server: a temporary folder as the server's `/` (STACKER_INSTALL_ROOT),
// and scripts/stand-ins first on PATH, so `docker` is the stand-in and `docker run trydirect/status:*`
// starts the agent stand-in, which polls Stacker and answers its commands. No container runs.
//   npm run -s try-server -- [--detach] '<install command>'
// Without --detach it stays while the agent stand-in runs, printing its log; Ctrl-C (or SIGTERM) stops
// the agent stand-ins it started and keeps the folder. With --detach it returns once the command ends.
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive, readRegistry, type ContainerRecord } from './stand-ins/docker.ts';

const STAND_INS = join(dirname(fileURLToPath(import.meta.url)), 'stand-ins');
const say = (line: string) => console.log(`try-server: ${line}`);

const args = process.argv.slice(2);
const detach = args.includes('--detach');
const command = args.filter((arg) => arg !== '--detach').join(' ').trim();
if (!command || args.includes('--help') || args.includes('-h')) {
  console.error("usage: npm run -s try-server -- [--detach] '<install command>'");
  process.exit(command ? 0 : 2);
}

const root = mkdtempSync(join(tmpdir(), 'stacker-try-server-'));
say('this is a stand-in server: it runs no container. `docker` is scripts/stand-ins/docker, and trydirect/status runs as the agent stand-in (a Node process).');
say(`stand-in root (the server's /): ${root}`);

const runningAgents = (): ContainerRecord[] => readRegistry(root).filter((record) => record.pid !== null && processAlive(record.pid));

/** Stops the agent stand-ins started under this root (SIGTERM, as docker stop does, then SIGKILL). */
async function stopAgents(): Promise<void> {
  for (const agent of runningAgents()) {
    say(`stopping ${agent.name} (pid ${agent.pid})`);
    process.kill(agent.pid!, 'SIGTERM');
    const deadline = Date.now() + 10_000;
    while (processAlive(agent.pid) && Date.now() < deadline) await new Promise((done) => setTimeout(done, 50));
    if (processAlive(agent.pid)) process.kill(agent.pid!, 'SIGKILL');
  }
}

const child = spawn('sh', ['-c', command], {
  stdio: 'inherit',
  env: { ...process.env, STACKER_INSTALL_ROOT: root, PATH: [STAND_INS, process.env.PATH].filter(Boolean).join(delimiter) },
});

let stopping: NodeJS.Signals | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping = signal;
    // A terminal's Ctrl-C reaches the command itself; a SIGTERM is passed on.
    if (child.exitCode === null && signal === 'SIGTERM') child.kill('SIGTERM');
    if (child.exitCode !== null) void stopAgents().then(() => finish());
  });
}

let commandCode = 0;
const followed = new Map<ContainerRecord, number>();

function finish(): never {
  printNewLogLines();
  say(`the folder stays: ${root}`);
  process.exit(stopping && commandCode === 0 ? 0 : commandCode);
}

child.on('exit', async (code, signal) => {
  commandCode = code ?? (signal === 'SIGINT' ? 130 : 143);
  if (stopping) {
    await stopAgents();
    finish();
  }
  const agents = runningAgents();
  if (commandCode !== 0) {
    say(`the install command exited with code ${commandCode}`);
    await stopAgents();
    finish();
  }
  if (agents.length === 0) {
    say('the install command started no agent stand-in');
    finish();
  }
  if (detach) {
    for (const agent of agents) {
      say(`agent stand-in ${agent.name} runs (pid ${agent.pid}); its log: ${agent.log}`);
      say(`stop it with: STACKER_INSTALL_ROOT=${root} PATH=${STAND_INS}${delimiter}$PATH docker rm -f ${agent.name}   (or: kill ${agent.pid})`);
    }
    process.exit(0);
  }
  say(`agent stand-in(s) running: ${agents.map((agent) => `${agent.name} (pid ${agent.pid})`).join(', ')}; Ctrl-C stops them`);
  followLogs(agents);
});

/** Prints the agents' log lines as they come, until every agent has ended. */
function followLogs(agents: ContainerRecord[]): void {
  for (const agent of agents) followed.set(agent, 0);
  const timer = setInterval(() => {
    printNewLogLines();
    if (runningAgents().length === 0 && !stopping) {
      clearInterval(timer);
      say('every agent stand-in has ended');
      finish();
    }
  }, 250);
}

function printNewLogLines(): void {
  for (const [agent, offset] of followed) {
    const fresh = readFrom(agent.log, offset);
    // Whole lines only: the rest is read again next time.
    const end = fresh.lastIndexOf(10) + 1;
    if (end === 0) continue;
    process.stdout.write(fresh.subarray(0, end).toString('utf8').replace(/^(?=.)/gm, `[${agent.name}] `));
    followed.set(agent, offset + end);
  }
}

function readFrom(file: string | null, offset: number): Buffer {
  if (!file) return Buffer.alloc(0);
  try {
    const size = statSync(file).size;
    if (size <= offset) return Buffer.alloc(0);
    const buffer = Buffer.alloc(size - offset);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, offset);
    } finally {
      closeSync(fd);
    }
    return buffer;
  } catch {
    return Buffer.alloc(0);
  }
}
