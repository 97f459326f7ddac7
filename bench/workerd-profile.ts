// Where the workers project's CPU goes inside workerd: runs vitest with workerd's inspector open (one
// file at a time, which vitest requires for --inspect), attaches to the test runner's isolate over the
// DevTools protocol, samples it for --seconds after --delay, writes the .cpuprofile (open it in Chrome's
// DevTools) and prints the functions with the most self time and the packages they belong to.
//   node bench/workerd-profile.ts [--seconds 100] [--delay 10] [--out /tmp/workerd.cpuprofile] [-- vitest args]
// (default vitest args: --project workers). --delay plus --seconds must end before the run does (the
// workers project takes ~130 s one file at a time): the profile is read from workerd, which ends with it.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { WebSocket as WebSocketType } from 'ws';
import { machine } from './lib/service.ts';

const WebSocket = createRequire(import.meta.url)('ws') as typeof WebSocketType;
const dashDash = process.argv.indexOf('--');
const { values } = parseArgs({
  args: process.argv.slice(2, dashDash === -1 ? undefined : dashDash),
  options: { seconds: { type: 'string', default: '100' }, delay: { type: 'string', default: '10' }, out: { type: 'string', default: '/tmp/workerd.cpuprofile' }, port: { type: 'string', default: '9229' } },
});
const vitestArgs = dashDash === -1 ? ['--project', 'workers'] : process.argv.slice(dashDash + 1);
const port = Number(values.port);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface CpuProfile {
  nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
  samples: number[];
  timeDeltas: number[];
}

const vitest = spawn(join(import.meta.dirname, '..', 'node_modules', '.bin', 'vitest'), ['run', ...vitestArgs, `--inspect=127.0.0.1:${port}`, '--no-file-parallelism', '--reporter=dot'], { stdio: ['ignore', 'ignore', 'inherit'] });
const exited = new Promise<number | null>((resolve) => vitest.once('exit', resolve));

/** The runner isolate's DevTools WebSocket, once workerd lists it. */
async function runnerTarget(): Promise<string> {
  for (;;) {
    const list = await fetch(`http://127.0.0.1:${port}/json/list`).then((response) => response.json() as Promise<Array<{ title: string; webSocketDebuggerUrl: string }>>, () => []);
    const runner = list.find((target) => target.title.includes('vitest-plugin-runner'));
    if (runner) return runner.webSocketDebuggerUrl.replace(/#/g, '%23');
    if (vitest.exitCode !== null) throw new Error('vitest ended before workerd listed its runner');
    await sleep(300);
  }
}

const socket = new WebSocket(await runnerTarget());
await new Promise((resolve) => socket.once('open', resolve));
let nextId = 0;
const waiting = new Map<number, (result: unknown) => void>();
socket.on('message', (data) => {
  const message = JSON.parse(String(data)) as { id?: number; result?: unknown };
  if (message.id !== undefined) waiting.get(message.id)?.(message.result);
});
const call = (method: string, params: object = {}) =>
  new Promise<unknown>((resolve) => {
    const id = ++nextId;
    waiting.set(id, resolve);
    socket.send(JSON.stringify({ id, method, params }));
  });

await sleep(Number(values.delay) * 1000);
await call('Profiler.enable');
await call('Profiler.setSamplingInterval', { interval: 1000 });
await call('Profiler.start');
await sleep(Number(values.seconds) * 1000);
const { profile } = (await call('Profiler.stop')) as { profile: CpuProfile };
socket.close();
writeFileSync(values.out, JSON.stringify(profile));

const selfMs = new Map<number, number>();
profile.samples.forEach((node, index) => selfMs.set(node, (selfMs.get(node) ?? 0) + (profile.timeDeltas[index] ?? 0) / 1000));
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
for (const node of profile.nodes) {
  const ms = selfMs.get(node.id) ?? 0;
  const { functionName, url, lineNumber } = node.callFrame;
  const file = url.replace(/^.*node_modules\//, '').replace(/^.*\/work\/[^/]+\//, '');
  const name = `${functionName || '(anonymous)'} ${file}:${lineNumber + 1}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
  const where = url.includes('node_modules/') ? url.replace(/^.*node_modules\/((@[^/]+\/)?[^/]+).*$/, '$1') : url.startsWith('file://') || url.startsWith('/') ? 'this project' : url || '(native)';
  byPackage.set(where, (byPackage.get(where) ?? 0) + ms);
}
const total = [...selfMs.values()].reduce((sum, ms) => sum + ms, 0);
const top = (map: Map<string, number>, count: number) =>
  [...map].sort((a, b) => b[1] - a[1]).slice(0, count).map(([name, ms]) => `| ${name} | ${(ms / 1000).toFixed(1)} | ${((ms / total) * 100).toFixed(1)}% |`);

console.log(`Machine: ${machine()}`);
console.log(`Command: node bench/workerd-profile.ts --seconds ${values.seconds} --delay ${values.delay} -- ${vitestArgs.join(' ')}`);
console.log(`Sampled ${(total / 1000).toFixed(1)} s of the runner isolate; profile in ${values.out}\n`);
console.log('| function (self time) | s | share |\n|---|--:|--:|');
console.log(top(byFunction, 25).join('\n'));
console.log('\n| where | s | share |\n|---|--:|--:|');
console.log(top(byPackage, 12).join('\n'));
vitest.kill('SIGINT');
await exited;
