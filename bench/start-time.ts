// npm start's readiness time: from `node scripts/start.ts` to its "listening on" line (the Worker
// answered /health_check on the migrated database), with DATABASE_URL unset (the embedded database).
//   cold: a new data folder (the database created, every migration applied, the Worker bundled);
//   warm: a second start on the same folder (the database reopened, migrations already applied).
// Each tree is measured in turn, run after run, so a before/after comparison sees the same load:
//   node bench/start-time.ts [--runs 3] [--tree label=<dir>]...
// With no --tree it measures this working tree ("now"). A tree of an earlier commit
// (`git worktree add /tmp/wt-before <commit>`) needs a node_modules: it gets this tree's linked.
// Docker Hub checks are off (DOCKERHUB_CHECK=off), so the figure is not a network timeout.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { freePort } from '../tests/node/helpers.ts';
import { percentile } from './lib/measure.ts';
import { machine, projectRoot } from './lib/service.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '3' }, tree: { type: 'string', multiple: true } }, strict: true });
const runs = Number(values.runs);
if (!Number.isInteger(runs) || runs < 1 || runs > 20) throw new Error('--runs: a whole number from 1 to 20');
const trees = (values.tree ?? [`now=${projectRoot}`]).map((spec) => {
  const at = spec.indexOf('=');
  if (at < 1) throw new Error(`--tree ${spec}: expected label=<dir>`);
  return { label: spec.slice(0, at), dir: resolve(spec.slice(at + 1)) };
});

/** Seconds from spawn to "listening on"; stops the service (Ctrl-C to its group) before resolving. */
async function timeStart(dir: string, dataDir: string): Promise<number> {
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PATH: [dirname(process.execPath), join(projectRoot, 'node_modules', '.bin'), process.env.PATH].join(':'),
    PORT: String(await freePort()),
    STACKER_DATA_DIR: dataDir,
    DOCKERHUB_CHECK: 'off',
  };
  delete env.DATABASE_URL;
  const started = performance.now();
  const child = spawn(process.execPath, ['scripts/start.ts'], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => (output += String(chunk)));
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  const seconds = await new Promise<number>((done, fail) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      output += `${line}\n`;
      if (line.startsWith('[stacker] listening on ')) done((performance.now() - started) / 1000);
    });
    void exited.then(() => fail(new Error(`npm start (${dir}) exited before listening:\n${output}`)));
  });
  process.kill(-child.pid!, 'SIGINT');
  await exited;
  return seconds;
}

const results = new Map<string, { cold: number[]; warm: number[] }>(trees.map((tree) => [tree.label, { cold: [], warm: [] }]));
for (const tree of trees) {
  if (!existsSync(join(tree.dir, 'node_modules'))) await symlink(join(projectRoot, 'node_modules'), join(tree.dir, 'node_modules'), 'dir');
}
console.error(`[bench] ${machine()}`);
for (let run = 1; run <= runs; run++) {
  for (const tree of trees) {
    const dataDir = await mkdtemp(join(tmpdir(), 'stacker-start-time-'));
    try {
      const cold = await timeStart(tree.dir, dataDir);
      const warm = await timeStart(tree.dir, dataDir);
      results.get(tree.label)!.cold.push(cold);
      results.get(tree.label)!.warm.push(warm);
      console.error(`[bench] run ${run} ${tree.label}: cold ${cold.toFixed(2)} s, warm ${warm.toFixed(2)} s`);
    } finally {
      await rm(dataDir, { recursive: true, force: true, maxRetries: 5 });
    }
  }
}
console.log(`| tree | cold start, median (min-max) | warm start, median (min-max) |`);
console.log(`|---|---|---|`);
const figure = (values: number[]) => `${percentile(values, 50).toFixed(2)} s (${Math.min(...values).toFixed(2)}-${Math.max(...values).toFixed(2)})`;
for (const [label, { cold, warm }] of results) console.log(`| ${label} | ${figure(cold)} | ${figure(warm)} |`);
