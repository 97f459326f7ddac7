// What one `stacker` run costs in CPU before it does anything: runs the binary (cli/stacker/bin.js, as
// a person runs it) N times, one after another, and reads the CPU time its processes used
// from the operating system (the children's user + system time, as `time` reports it). With --bundle,
// the CLI bundled into one module (scripts/bundle-cli.ts), as the CLI journeys run it. With --console,
// the operators' console (node cli/console.ts) instead; --compile-cache gives it Node's compile cache
// in a new folder, as the node project's global setup gives every process the journeys start.
//   node bench/cli-start.ts [--runs 20] [--bundle] [-- args...]        (default args: --version)
//   node bench/cli-start.ts [--runs 20] --console [--compile-cache] [-- args...]   (default: --help)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleCli } from '../scripts/bundle-cli.ts';
import { machine } from './lib/service.ts';

const dashDash = process.argv.indexOf('--');
const { values } = parseArgs({ args: process.argv.slice(2, dashDash === -1 ? undefined : dashDash), options: {
    runs: { type: 'string', default: '20' },
    bundle: { type: 'boolean', default: false },
    console: { type: 'boolean', default: false },
    'compile-cache': { type: 'boolean', default: false },
  },
});
const runs = Number(values.runs);
const args = dashDash === -1 ? [values.console ? '--help' : '--version'] : process.argv.slice(dashDash + 1);
const scratch = values.bundle || values['compile-cache'] ? mkdtempSync(join(tmpdir(), 'stacker-cli-start-')) : undefined;
// As tests/node/global-setup.ts gives it: the compiled code cached in a folder of the run.
if (scratch) process.env.NODE_COMPILE_CACHE = join(scratch, 'compile-cache');
else delete process.env.NODE_COMPILE_CACHE;
if (values.bundle) await bundleCli(join(scratch!, 'stacker.mjs'));
const root = join(import.meta.dirname, '..');
const [bin, binArgs] = values.console
  ? [process.execPath, [join(root, 'cli', 'console.ts'), ...args]]
  : values.bundle
    ? [process.execPath, [join(scratch!, 'stacker.mjs'), ...args]]
    : [join(root, 'cli', 'stacker', 'bin.js'), args];
const what = values.console ? `the console${values['compile-cache'] ? ' (compile cache)' : ''}` : `stacker${values.bundle ? ' (bundled)' : ''}`;

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
const flags = [values.bundle && ' --bundle', values.console && ' --console', values['compile-cache'] && ' --compile-cache'].filter(Boolean).join('');
console.log(`Command: node bench/cli-start.ts --runs ${runs}${flags} -- ${args.join(' ')}`);
console.log(`${runs} runs of ${what} ${args.join(' ')}: ${(seconds / runs).toFixed(3)} s of CPU and ${(wall / runs).toFixed(3)} s of wall time each`);
if (scratch) rmSync(scratch, { recursive: true, force: true });
