// What one `stacker` run costs in CPU before it does anything: runs the binary (cli/stacker/bin.js, as
// a person runs it) N times, one after another, and reads the CPU time its processes used
// from the operating system (the children's user + system time, as `time` reports it). With --bundle,
// the CLI bundled into one module (scripts/bundle-cli.ts), as the CLI journeys run it.
//   node bench/cli-start.ts [--runs 20] [--bundle] [-- args...]        (default args: --version)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleCli } from '../scripts/bundle-cli.ts';
import { machine } from './lib/service.ts';

const dashDash = process.argv.indexOf('--');
const { values } = parseArgs({ args: process.argv.slice(2, dashDash === -1 ? undefined : dashDash), options: { runs: { type: 'string', default: '20' }, bundle: { type: 'boolean', default: false } } });
const runs = Number(values.runs);
const args = dashDash === -1 ? ['--version'] : process.argv.slice(dashDash + 1);
const scratch = values.bundle ? mkdtempSync(join(tmpdir(), 'stacker-cli-start-')) : undefined;
if (scratch) {
  await bundleCli(join(scratch, 'stacker.mjs'));
  // As tests/node/helpers.ts runs it: the project's Node, its compiled code cached beside it.
  process.env.NODE_COMPILE_CACHE = join(scratch, 'compile-cache');
}
const bin = scratch ? process.execPath : join(import.meta.dirname, '..', 'cli', 'stacker', 'bin.js');
const binArgs = scratch ? [join(scratch, 'stacker.mjs'), ...args] : args;

// The first run fills Node's compile cache (as a person's first run does); it is not counted.
spawnSync(bin, binArgs, { stdio: 'ignore' });
// bash's `times` prints the shell's children's user and system time after they ran.
const script = `for i in $(seq ${runs}); do "$0" "$@" >/dev/null 2>&1; done; times`;
const started = performance.now();
const result = spawnSync('bash', ['-c', script, bin, ...binArgs], { encoding: 'utf8' });
const wall = (performance.now() - started) / 1000;
const children = result.stdout.trim().split('\n').at(-1)!; // e.g. "0m6.123s 0m1.456s"
const seconds = [...children.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, match) => sum + Number(match[1]) * 60 + Number(match[2]), 0);

console.log(`Machine: ${machine()}`);
console.log(`Command: node bench/cli-start.ts --runs ${runs}${scratch ? ' --bundle' : ''} -- ${args.join(' ')}`);
console.log(`${runs} runs of stacker${scratch ? ' (bundled)' : ''} ${args.join(' ')}: ${(seconds / runs).toFixed(3)} s of CPU and ${(wall / runs).toFixed(3)} s of wall time each`);
if (scratch) rmSync(scratch, { recursive: true, force: true });
