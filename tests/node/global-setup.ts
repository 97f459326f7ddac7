// The node project's global setup: the run's PostgreSQL server (tests/database-server.ts), shared
// with the workers and engine projects; its URL reaches the test files as DATABASE_URL. And one
// bundle of the Worker for all the files' npm starts (tests/node/worker-bundle.ts), made while the
// first files run; its folder reaches them as STACKER_TEST_WORKER_BUNDLE.
import { acquireDatabaseServer, releaseDatabaseServer } from '../database-server.ts';
import { BUNDLE_ENV, startBundling } from './worker-bundle.ts';

export default async function setup() {
  await acquireDatabaseServer();
  const bundle = startBundling();
  process.env[BUNDLE_ENV] = bundle.dir;
  return async () => {
    bundle.remove();
    await releaseDatabaseServer();
  };
}
