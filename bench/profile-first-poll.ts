// Where the Worker's CPU goes when a fleet's first polls arrive at once: a CPU profile of the Worker's
// isolate (Durable Objects included: under Miniflare they run in the same isolate) while N agents,
// each just registered through the API, send their first wait at the same moment.
//   node bench/profile-first-poll.ts [--agents 300] [--timeout 2] [--out $TMPDIR/first-poll.cpuprofile] [--profile on|off]
//   [--code-from DIR] [--pause 0]
// (--pause S: seconds between the registrations and the first polls, e.g. long enough for idle objects
// to be evicted, as after a fleet's registrations spread over a minute.)
// (--profile off: no profile, so the CPU figures are not inflated by the sampling. --code-from: the
// service run from another tree, e.g. `git archive` of an earlier commit, as request-cost's --baseline.)
// The service is the benchmarks' (bench/lib/service.ts) on Miniflare with workerd's inspector open;
// the profile (open it in Chrome DevTools' Performance panel) covers from just before the polls are
// sent to their last answer. Printed: the functions with the most self time, and each process's CPU,
// for the first polls and then for a second round of polls by the same agents (idle polls).
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { registerEach, seedAgents } from './load/agents.ts';
import { cpuBetween, snapshot } from './load/processes.ts';
import { freePort } from '../tests/node/helpers.ts';
import { machine, RATE_LIMITS_OFF, startService } from './lib/service.ts';

const { values } = parseArgs({ options: { agents: { type: 'string', default: '300' }, timeout: { type: 'string', default: '2' }, out: { type: 'string', default: join(tmpdir(), 'first-poll.cpuprofile') }, profile: { type: 'string', default: 'on' }, 'code-from': { type: 'string' }, pause: { type: 'string', default: '0' } } });
const profiling = values.profile !== 'off';
const agentCount = Number(values.agents);
const timeoutSeconds = Number(values.timeout);
if (!Number.isInteger(agentCount) || agentCount < 1 || !Number.isInteger(timeoutSeconds) || timeoutSeconds < 1) {
  console.error('usage: node bench/profile-first-poll.ts [--agents n] [--timeout s] [--out file]');
  process.exit(2);
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** A DevTools-protocol session with the Worker's isolate. */
async function inspect(port: number): Promise<{ send: (method: string, params?: object) => Promise<unknown>; close: () => void }> {
  const targets = (await (await fetch(`http://127.0.0.1:${port}/json`)).json()) as Array<{ webSocketDebuggerUrl: string; title?: string }>;
  const target = targets.find((candidate) => !candidate.title?.includes('loopback')) ?? targets[0];
  if (!target) throw new Error(`no inspector target on port ${port}`);
  const socket = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve, { once: true });
    socket.addEventListener('error', reject, { once: true });
  });
  let nextId = 1;
  const pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  socket.addEventListener('message', (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const waiter = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id!);
    if (message.error) waiter.reject(new Error(message.error.message));
    else waiter.resolve(message.result);
  });
  return {
    send: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = nextId++;
        pending.set(id, { resolve, reject });
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Self time by function (ms), from a profile's samples. */
function selfTimes(profile: Profile): Array<{ name: string; ms: number }> {
  const byNode = new Map(profile.nodes.map((node) => [node.id, node]));
  const totals = new Map<string, number>();
  profile.samples.forEach((nodeId, index) => {
    const frame = byNode.get(nodeId)!.callFrame;
    const file = frame.url.split('/').pop() ?? '';
    const name = `${frame.functionName || '(anonymous)'} ${file}:${frame.lineNumber + 1}`;
    totals.set(name, (totals.get(name) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000);
  });
  return [...totals].map(([name, ms]) => ({ name, ms })).sort((a, b) => b.ms - a.ms);
}

async function main(): Promise<void> {
  const inspectorPort = await freePort();
  process.env.STACKER_INSPECTOR_PORT = String(inspectorPort);
  const service = await startService('bench_profile', RATE_LIMITS_OFF, { host: 'miniflare', ...(values['code-from'] ? { codeFrom: values['code-from'] } : { snapshot: true }), privatePostgres: { max_connections: 300 } });
  try {
    const pool = new pg.Pool({ connectionString: service.databaseUrl, max: 2 });
    const seeded = await seedAgents(pool, agentCount, ['bench-profile'], { register: true });
    await pool.end();
    const agents = (await registerEach(service.baseUrl, seeded.map((agent) => agent.hash), 8)).map((agent) => ({
      hash: agent.hash,
      headers: { 'x-agent-id': agent.agentId, authorization: `Bearer ${agent.token}` },
    }));
    const pause = Number(values.pause);
    if (pause > 0) {
      console.error(`[profile] ${agents.length} agents registered; ${pause} s until their first polls`);
      await new Promise((resolve) => setTimeout(resolve, pause * 1000));
    }
    console.error(`[profile] ${agents.length} agents registered; profiling their first polls, all at once`);
    const pollAll = () =>
      Promise.all(
        agents.map(async (agent) => {
          const response = await fetch(`${service.baseUrl}/api/v1/agent/commands/wait/${agent.hash}?timeout=${timeoutSeconds}`, { headers: agent.headers });
          await response.arrayBuffer();
          return response.status;
        }),
      );
    const inspector = profiling ? await inspect(inspectorPort) : undefined;
    await inspector?.send('Profiler.enable');
    await inspector?.send('Profiler.setSamplingInterval', { interval: 200 });
    await inspector?.send('Profiler.start');
    const before = snapshot();
    const statuses = await pollAll();
    const after = snapshot();
    const profile = inspector ? ((await inspector.send('Profiler.stop')) as { profile: Profile }).profile : { nodes: [], samples: [], timeDeltas: [] };
    inspector?.close();
    if (inspector) await writeFile(values.out!, JSON.stringify(profile));
    // Let the first polls' waitUntil work (heartbeats) finish, then the same agents poll again.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const againBefore = snapshot();
    const again = await pollAll();
    const againAfter = snapshot();
    const bad = [...statuses, ...again].filter((status) => status !== 204 && status !== 200).length;
    const sampled = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0) / 1000;
    const idle = selfTimes(profile).filter((entry) => entry.name.startsWith('(idle)')).reduce((sum, entry) => sum + entry.ms, 0);
    const perPoll = (from: ReturnType<typeof snapshot>, to: ReturnType<typeof snapshot>) =>
      cpuBetween(from, to, 1).map(([name, seconds]) => `${name} ${((seconds * 1000) / agents.length).toFixed(2)}`).join('; ');
    console.log(`Machine: ${machine()}`);
    console.log(`Command: node bench/profile-first-poll.ts ${process.argv.slice(2).join(' ')}`);
    console.log(`${agents.length} first polls at once, then ${agents.length} second polls at once; ${bad} not answered 200; profile of the first ${values.out} (${sampled.toFixed(0)} ms sampled, ${idle.toFixed(0)} ms idle)`);
    console.log(`CPU ms per first poll by process: ${perPoll(before, after)}`);
    console.log(`CPU ms per second poll by process: ${perPoll(againBefore, againAfter)}`);
    console.log('Self time in the first polls, ms per poll (top 25):');
    for (const entry of selfTimes(profile).filter((candidate) => !candidate.name.startsWith('(idle)')).slice(0, 25)) {
      console.log(`  ${(entry.ms / agents.length).toFixed(3).padStart(7)}  ${entry.name}`);
    }
  } finally {
    await service.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`[profile] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
