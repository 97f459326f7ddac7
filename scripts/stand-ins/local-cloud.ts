// npm start's cloud: the Hetzner Cloud and DigitalOcean API stand-ins (any bearer token opens an
// account, so whatever token a newcomer saves works), whose created servers "boot" by running their
// user data's install command the way `npm run -s try-server` does: a temporary folder as the
// server's /, the docker stand-in, the agent stand-in. No container and no real server runs. A
// deleted server's agent stand-ins are stopped.
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runcmdOf } from '../../functions/services/deploy-engine/cloud-init.ts';
import { startDigitalOceanStandIn } from './digitalocean.ts';
import { processAlive, readRegistry } from './docker.ts';
import { startHetznerStandIn } from './hetzner.ts';
import type { CloudStandIn, StandInServer } from './cloud.ts';

const TRY_SERVER = join(dirname(fileURLToPath(import.meta.url)), '..', 'try-server.ts');

export interface LocalClouds {
  /** Settings to give the Worker: HETZNER_API_URL and DIGITALOCEAN_API_URL, for those that were unset. */
  settings: Record<string, string>;
  close(): Promise<void>;
}

export async function startLocalClouds(unset: { hetzner: boolean; digitalOcean: boolean }, log: (line: string) => void): Promise<LocalClouds> {
  const roots = new Map<number, string>();
  const stopAgents = (id: number) => {
    const root = roots.get(id);
    if (!root) return;
    for (const record of readRegistry(root)) if (record.pid !== null && processAlive(record.pid)) process.kill(record.pid, 'SIGTERM');
  };
  const hooks = {
    onServerCreated(server: StandInServer) {
      const [command] = runcmdOf(server.userData);
      if (!command) return log(`server ${server.name}: its user data has no command to run`);
      log(`server ${server.name} boots: running its install command as try-server does`);
      const child = spawn(process.execPath, [TRY_SERVER, '--detach', command], { stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk) => {
        output += String(chunk);
        const root = /stand-in root \(the server's \/\): (\S+)/.exec(output)?.[1];
        if (root) roots.set(server.id, root);
      });
      child.stderr.on('data', (chunk) => (output += String(chunk)));
      child.on('exit', (code) => log(`server ${server.name}: its install command ${code === 0 ? 'ran; its agent stand-in runs' : `failed (exit ${code}):\n${output.trim()}`}`));
    },
    onServerDeleted(server: StandInServer) {
      log(`server ${server.name} deleted: its agent stand-in stops`);
      stopAgents(server.id);
    },
  };
  const started: CloudStandIn[] = [];
  const settings: Record<string, string> = {};
  const options = { token: `local-${crypto.randomUUID()}`, acceptAnyToken: true, ...hooks };
  if (unset.hetzner) {
    const standIn = await startHetznerStandIn(options);
    started.push(standIn);
    settings.HETZNER_API_URL = standIn.apiUrl;
  }
  if (unset.digitalOcean) {
    const standIn = await startDigitalOceanStandIn(options);
    started.push(standIn);
    settings.DIGITALOCEAN_API_URL = standIn.apiUrl;
  }
  return {
    settings,
    async close() {
      for (const id of roots.keys()) stopAgents(id);
      await Promise.all(started.map((standIn) => standIn.close()));
    },
  };
}
