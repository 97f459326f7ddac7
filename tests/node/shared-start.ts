// One `npm start` for the journeys that need the same one, on a scratch database of the run's
// PostgreSQL: `builtin` (the built-in engine, no Docker Hub check, npm start's own Hetzner Cloud and
// DigitalOcean stand-ins) and `install-service` (deploys through npm start's install-service
// stand-in). Each journey signs in as users of its own and reads only what they made (an admin's
// pages show the other journeys' projects too), so they can share it; a start of its own would cost
// each of them some 4 s of CPU (npm start, its stand-ins, Miniflare and workerd) in a CPU-bound run.
//
// The node project's files run in several processes, and a process ends when its files are done, so
// the shared start belongs to the global setup's process: a broker on loopback starts it when a file
// first asks (sharedLocalService) and stops it when the run ends. What npm start prints is kept in a
// file, for the files' output() checks.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalService, type RunningStart } from './helpers.ts';

export const SHARED_START_ENV = 'STACKER_TEST_SHARED_START';

export const SHARED_STARTS = {
  builtin: { DEPLOY_ENGINE: 'builtin', DOCKERHUB_CHECK: 'off', HETZNER_API_URL: '', DIGITALOCEAN_API_URL: '' },
  'install-service': { DEPLOY_ENGINE: 'install-service' },
} satisfies Record<string, NodeJS.ProcessEnv>;
export type SharedStartName = keyof typeof SHARED_STARTS;

interface SharedStartInfo {
  port: number;
  scheduledPath: string;
  dataDir: string;
  logFile: string;
}

export interface SharedStart extends RunningStart {
  /** npm start's data folder (STACKER_DATA_DIR), e.g. for scripts/dev-login.ts. */
  dataDir: string;
}

/** In the global setup: the broker, on a free loopback port. Its URL goes to the files in SHARED_START_ENV. */
export async function startSharedStartBroker(): Promise<{ url: string; close: () => Promise<void> }> {
  const folder = mkdtempSync(join(tmpdir(), 'stacker-shared-start-'));
  const starts = new Map<SharedStartName, Promise<RunningStart>>();

  const server = createServer((request, response) => {
    const name = /^\/start\/([\w-]+)$/.exec(request.url ?? '')?.[1];
    if (request.method !== 'POST' || !name || !Object.hasOwn(SHARED_STARTS, name)) {
      response.writeHead(404).end();
      return;
    }
    const dataDir = join(folder, name, 'data');
    const logFile = join(folder, name, 'npm-start.log');
    let started = starts.get(name as SharedStartName);
    if (!started) {
      mkdirSync(dataDir, { recursive: true });
      writeFileSync(logFile, '');
      started = startLocalService(dataDir, SHARED_STARTS[name as SharedStartName], { database: 'scratch', logFile });
      starts.set(name as SharedStartName, started);
    }
    started.then(
      (running) => {
        const info: SharedStartInfo = { port: running.port, scheduledPath: running.scheduledPath, dataDir, logFile };
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(info));
      },
      (error: unknown) => response.writeHead(500, { 'content-type': 'text/plain' }).end(String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  return {
    url,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await Promise.all([...starts.values()].map((started) => started.then((running) => running.stop()).catch(() => undefined)));
      rmSync(folder, { recursive: true, force: true, maxRetries: 5 });
    },
  };
}

/**
 * In a test file: the shared npm start of that name, started by the first file that asks. Its stop()
 * leaves it running for the others (the run's end stops it).
 */
export async function sharedLocalService(name: SharedStartName): Promise<SharedStart> {
  const broker = process.env[SHARED_START_ENV];
  if (!broker) throw new Error(`${SHARED_START_ENV} is not set: the node project's global setup (tests/node/global-setup.ts) starts the broker`);
  const response = await fetch(`${broker}/start/${name}`, { method: 'POST' });
  if (response.status !== 200) throw new Error(`the shared npm start did not start: ${await response.text()}`);
  const info = (await response.json()) as SharedStartInfo;
  return {
    port: info.port,
    scheduledPath: info.scheduledPath,
    dataDir: info.dataDir,
    output: () => readFileSync(info.logFile, 'utf8'),
    stop: async () => null,
  };
}
