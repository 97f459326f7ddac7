// `stacker clouds types|regions|images <cloud>` and `stacker deploy --cloud htz --server --region
// --os` as the real binary against one `npm start` (DEPLOY_ENGINE=builtin) whose HETZNER_API_URL is a
// Hetzner Cloud stand-in started here: the key's offers with prices, a deploy that creates the
// server, and a cancel that deletes it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { startHetznerStandIn, type CloudStandIn } from '../../scripts/stand-ins/hetzner.ts';
import { spawnStacker, startLocalService, type RunningStart } from './helpers.ts';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'stacker-cli-clouds-'));
const project = join(scratch, 'shop');
const xdg = join(scratch, 'config');
const cloudToken = `hcloud-${crypto.randomUUID()}`;
let service: RunningStart | undefined;
let hetzner: CloudStandIn | undefined;
let apiUrl = '';


const stacker = (args: string[]) => spawnStacker(args, { url: apiUrl, xdg, cwd: project }).done;

beforeAll(async () => {
  mkdirSync(project, { recursive: true });
  hetzner = await startHetznerStandIn({ token: cloudToken, bootAfterMs: null });
  service = await startLocalService(join(scratch, 'data'), { DEPLOY_ENGINE: 'builtin', DOCKERHUB_CHECK: 'off', HETZNER_API_URL: hetzner.apiUrl }, { database: 'scratch' });
  apiUrl = `http://127.0.0.1:${service.port}`;
  const login = spawnSync(process.execPath, [join(root, 'scripts', 'dev-login.ts'), '--user', 'clouds-cli'], { cwd: root, env: { ...process.env, STACKER_DATA_DIR: join(scratch, 'data') }, encoding: 'utf8' });
  expect(login.status, login.stderr).toBe(0);
  const token = login.stdout.trim();
  expect(await stacker(['login', '--token', token])).toMatchObject({ code: 0 });
  const saved = await fetch(`${apiUrl}/cloud`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'htz', cloud_token: cloudToken, save_token: true }) });
  expect(saved.status).toBe(201);
}, 150_000);

afterAll(async () => {
  await service?.stop();
  await hetzner?.close();
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe('stacker clouds and a deploy to a new Hetzner server', () => {
  it('lists the types with their monthly prices, the regions and the images of the saved key', async () => {
    const types = await stacker(['clouds', 'types', 'htz']);
    expect(types, types.stderr).toMatchObject({ code: 0 });
    expect(types.stdout).toMatch(/^TYPE +CORES +MEMORY +DISK +ARCH +MONTHLY +LOCATIONS$/m);
    expect(types.stdout).toMatch(/^cx23 +2 +4 GB +40 GB +x86 +3\.49 EUR +fsn1 nbg1 hel1$/m);
    expect(types.stdout).not.toMatch(/^cx11 /m);
    const regions = await stacker(['clouds', 'regions', 'htz', '--json']);
    expect(JSON.parse(regions.stdout).map((entry: { name: string }) => entry.name)).toContain('fsn1');
    const images = await stacker(['clouds', 'images', 'htz']);
    expect(images.stdout).toMatch(/^ubuntu-24\.04 +Ubuntu 24\.04 +ubuntu +any$/m);
    expect(`${types.stdout}${regions.stdout}${images.stdout}`).not.toContain(cloudToken);
  });

  it('deploys with --server, --region, --os and --ssh-key (the .pub file; a private key is refused): the server is created with the key; cancel deletes it', async () => {
    writeFileSync(join(project, 'docker-compose.yml'), 'services:\n  web:\n    image: nginx:1.27\n    ports:\n      - "8080:80"\n');
    expect(await stacker(['init', '--from-compose', 'docker-compose.yml'])).toMatchObject({ code: 0 });
    const refused = await stacker(['deploy', '--cloud', 'htz', '--server', 'cx11', '--region', 'fsn1', '--os', 'ubuntu-24.04']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Hetzner Cloud offers no server type cx11/);
    const sshKey = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICliKeyOfTheUserAbcdefghijklmnopqrstuvwxyz012 me@laptop';
    writeFileSync(join(scratch, 'id_ed25519'), '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n');
    writeFileSync(join(scratch, 'id_ed25519.pub'), `${sshKey}\n`);
    const privateKey = await stacker(['deploy', '--cloud', 'htz', '--server', 'cx23', '--region', 'fsn1', '--os', 'ubuntu-24.04', '--ssh-key', join(scratch, 'id_ed25519')]);
    expect(privateKey).toMatchObject({ code: 2 });
    expect(privateKey.stderr).toContain('is a private key: pass the .pub file beside it');
    const started = await stacker(['deploy', '--cloud', 'htz', '--server', 'cx23', '--region', 'fsn1', '--os', 'ubuntu-24.04', '--ssh-key', join(scratch, 'id_ed25519.pub'), '--json']);
    expect(started, started.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(started.stdout).install_command).toBeUndefined();
    // The engine creates the server right after the answer; the stand-in keeps it starting.
    for (let tries = 0; tries < 100 && hetzner!.servers(cloudToken).length === 0; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    const [server] = hetzner!.servers(cloudToken);
    expect(server).toMatchObject({ type: 'cx23', location: 'fsn1', status: 'initializing' });
    expect(parse(server!.userData)).toMatchObject({ ssh_authorized_keys: [sshKey] });
    expect(await stacker(['cancel'])).toMatchObject({ code: 0 });
    for (let tries = 0; tries < 100 && !hetzner!.servers(cloudToken)[0]!.deletedAt; tries++) await new Promise((resolve) => setTimeout(resolve, 100));
    expect(hetzner!.servers(cloudToken)[0]!.deletedAt).not.toBeNull();
  }, 90_000);
});
