// The node project's global setup: the run's PostgreSQL server (tests/database-server.ts), shared
// with the workers project; its URL reaches the test files as DATABASE_URL. And one
// bundle of the Worker for all the files' npm starts (tests/node/worker-bundle.ts), made while the
// first files run; its folder reaches them as STACKER_TEST_WORKER_BUNDLE. And the `stacker` CLI in one
// module (scripts/bundle-cli.ts), which the CLI journeys run: STACKER_TEST_CLI_BUNDLE. And Node's
// compile cache for every Node process the files start (npm start and its stand-ins, the CLI, the
// console, try-server and its agents): each of the ~150 starts of a run would otherwise compile the
// same modules again (a console command: 0.14 s of CPU without the cache, 0.08 s with it:
// bench/cli-start.ts --console). And the broker of the npm starts that several journeys share
// (tests/node/shared-start.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleCli } from '../../scripts/bundle-cli.ts';
import { acquireDatabaseServer, releaseDatabaseServer } from '../database-server.ts';
import { CLI_BUNDLE_ENV } from './helpers.ts';
import { SHARED_START_ENV, startSharedStartBroker } from './shared-start.ts';
import { BUNDLE_ENV, startBundling } from './worker-bundle.ts';

export default async function setup() {
  await acquireDatabaseServer();
  const bundle = startBundling();
  process.env[BUNDLE_ENV] = bundle.dir;
  const cliDir = mkdtempSync(join(tmpdir(), 'stacker-test-cli-'));
  process.env[CLI_BUNDLE_ENV] = join(cliDir, 'stacker.mjs');
  process.env.NODE_COMPILE_CACHE ??= join(cliDir, 'compile-cache');
  await bundleCli(process.env[CLI_BUNDLE_ENV]);
  const sharedStart = await startSharedStartBroker();
  process.env[SHARED_START_ENV] = sharedStart.url;
  return async () => {
    await sharedStart.close();
    bundle.remove();
    rmSync(cliDir, { recursive: true, force: true });
    await releaseDatabaseServer();
  };
}
