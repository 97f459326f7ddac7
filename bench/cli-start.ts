// What one `stacker` run costs in CPU before it does anything: runs the binary (cli/stacker/bin.js, as
// the tests and a person run it) N times, one after another, and reads the CPU time its processes used
// from the operating system (the children's user + system time, as `time` reports it).
//   node bench/cli-start.ts [--runs 20] [-- args...]        (default args: --version)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { machine } from './lib/service.ts';

const dashDash = process.argv.indexOf('--');
const { values } = parseArgs({ args: process.argv.slice(2, dashDash === -1 ? undefined : dashDash), options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);
const args = dashDash === -1 ? ['--version'] : process.argv.slice(dashDash + 1);
const bin = join(import.meta.dirname, '..', 'cli', 'stacker', 'bin.js');

// The first run fills Node's compile cache (as a person's first run does); it is not counted.
spawnSync(bin, args, { stdio: 'ignore' });
// bash's `times` prints the shell's children's user and system time after they ran.
const script = `for i in $(seq ${runs}); do "$0" "$@" >/dev/null 2>&1; done; times`;
const started = performance.now();
const result = spawnSync('bash', ['-c', script, bin, ...args], { encoding: 'utf8' });
const wall = (performance.now() - started) / 1000;
const children = result.stdout.trim().split('\n').at(-1)!; // e.g. "0m6.123s 0m1.456s"
const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, match) => sum + Number(match[1]) * 60 + Number(match[2]), 0);

console.log(`Machine: ${machine()}`);
console.log(`Command: node bench/cli-start.ts --runs ${runs} -- ${args.join(' ')}`);
console.log(`${runs} runs of stacker ${args.join(' ')}: ${(seconds / runs).toFixed(3)} s of CPU and ${(wall / runs).toFixed(3)} s of wall time each`);
