// One bundle of the Worker for every npm start of the node project's files. Bundling (`wrangler
// deploy --dry-run`, esbuild) and wrangler's own start are most of a start's CPU, and the suite is
// CPU-bound: so the journeys' services run as `STACKER_WORKER_HOST=miniflare` with
// `STACKER_WORKER_BUNDLE` (scripts/start.ts), all on this one bundle. The files that test npm start
// itself, as a person runs it, keep `wrangler dev` (startLocalService's `host: 'wrangler'`).
//
// The global setup starts the bundle and does not wait for it (the files that need no service start
// at once); it lands in its folder by a rename, whole, and a start waits for the folder to appear.
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, watch, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorker } from '../../scripts/serve-miniflare.ts';

/** Set by the global setup for the test files: the folder the bundle lands in. */
export const BUNDLE_ENV = 'STACKER_TEST_WORKER_BUNDLE';

/** Starts bundling into a new temporary folder; answers the folder's path and how to remove it. */
export function startBundling(): { dir: string; remove: () => void } {
  const parent = mkdtempSync(join(tmpdir(), 'stacker-test-bundle-'));
  const dir = join(parent, 'bundle');
  const partial = join(parent, 'partial');
  bundleWorker(partial)
    .then(
      () => renameSync(partial, dir),
      (error: unknown) => writeFileSync(join(parent, 'failed'), error instanceof Error ? error.message : String(error)),
    )
    .catch(() => undefined); // the run ended (and removed the folder) before the bundle did
  return { dir, remove: () => rmSync(parent, { recursive: true, force: true }) };
}

/** The bundle's folder once it is there (it fails with the bundler's reason if bundling failed). */
export async function bundleReady(dir: string): Promise<string> {
  const parent = join(dir, '..');
  const failed = join(parent, 'failed');
  const state = () => (existsSync(dir) ? 'ready' : existsSync(failed) ? 'failed' : 'pending');
  if (state() === 'pending') {
    await new Promise<void>((resolve) => {
      const watcher = watch(parent, () => {
        if (state() === 'pending') return;
        watcher.close();
        resolve();
      });
      // It may have landed between the first look and the watch.
      if (state() !== 'pending') {
        watcher.close();
        resolve();
      }
    });
  }
  if (state() === 'failed') throw new Error(`bundling the Worker for the tests failed: ${readFileSync(failed, 'utf8')}`);
  return dir;
}
