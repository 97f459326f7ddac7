// One `npm start` as the test journeys run it (tests/node/helpers.ts startLocalService: the built-in
// engine, no Docker Hub check, the embedded PostgreSQL in a new data folder), from start to
// "listening", then Ctrl-C. Run it under bench/suite-cpu.ts to see what a start costs in CPU:
//   node bench/suite-cpu.ts -- node bench/one-start.ts                          (wrangler dev)
//   node bench/suite-cpu.ts -- node bench/one-start.ts --bundle DIR             (Miniflare, a bundle made earlier)
//   node bench/one-start.ts --make-bundle DIR                                   (makes that bundle)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bundleWorker } from '../scripts/serve-miniflare.ts';
import { startLocalService } from '../tests/node/helpers.ts';
import { BUNDLE_ENV } from '../tests/node/worker-bundle.ts';

const { values } = parseArgs({ options: { bundle: { type: 'string' }, 'make-bundle': { type: 'string' } } });
if (values['make-bundle']) {
  await bundleWorker(resolve(values['make-bundle']));
  process.exit(0);
}
if (values.bundle) process.env[BUNDLE_ENV] = resolve(values.bundle);
else delete process.env[BUNDLE_ENV];

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-one-start-'));
const started = Date.now();
const service = await startLocalService(dataDir, { DEPLOY_ENGINE: 'builtin', DOCKERHUB_CHECK: 'off' }, { host: values.bundle ? 'bundle' : 'wrangler' });
console.log(`listening ${Date.now() - started} ms after the start (${values.bundle ? `Miniflare, bundle ${values.bundle}` : 'wrangler dev'})`);
await service.stop();
rmSync(dataDir, { recursive: true, force: true });
