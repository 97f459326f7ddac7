// npm start with HETZNER_API_URL and DIGITALOCEAN_API_URL unset stands in for both providers: a
// newcomer saves any token, deploys "to Hetzner" with the stacker binary, and the created server
// boots by running its user data's install command as try-server does, to completed with its
// address; destroy takes the stack down and deletes the server, whose agent stand-in stops.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnStacker } from './helpers.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'stacker-start-clouds-'));
const project = join(scratch, 'shop');
const xdg = join(scratch, 'config');
let service: SharedStart | undefined;
let apiUrl = '';


const stacker = (args: string[]) => spawnStacker(args, { url: apiUrl, xdg, cwd: project, env: { HETZNER_API_URL: undefined } }).done;

beforeAll(async () => {
  mkdirSync(project, { recursive: true });
  service = await sharedLocalService('builtin');
  apiUrl = `http://127.0.0.1:${service.port}`;
  const login = spawnSync(process.execPath, [join(root, 'scripts', 'dev-login.ts'), '--user', 'start-clouds'], { cwd: root, env: { ...process.env, STACKER_DATA_DIR: service.dataDir }, encoding: 'utf8' });
  expect(login.status, login.stderr).toBe(0);
  const token = login.stdout.trim();
  expect(await stacker(['login', '--token', token])).toMatchObject({ code: 0 });
  const saved = await fetch(`${apiUrl}/cloud`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ provider: 'htz', cloud_token: 'any-token-a-newcomer-saved', save_token: true }) });
  expect(saved.status).toBe(201);
}, 150_000);

afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

describe('npm start stands in for the cloud providers', () => {
  it('says so; a deploy to a new Hetzner server ends completed with its address; destroy deletes it', async () => {
    expect(service!.output()).toMatch(/Hetzner Cloud and DigitalOcean API stand-ins \(any saved token works/);
    writeFileSync(join(project, 'docker-compose.yml'), 'services:\n  web:\n    image: nginx:1.27\n    ports:\n      - "8080:80"\n');
    expect(await stacker(['init', '--from-compose', 'docker-compose.yml'])).toMatchObject({ code: 0 });
    const deployed = await stacker(['deploy', '--cloud', 'htz', '--server', 'cx23', '--region', 'fsn1', '--os', 'ubuntu-24.04', '--follow']);
    expect(deployed, `${deployed.stdout}\n${deployed.stderr}\n${service!.output()}`).toMatchObject({ code: 0 });
    const serverName = /Server (shop-[a-z0-9]+) running at 203\.0\.113\.\d+/.exec(deployed.stdout)?.[1];
    expect(serverName, deployed.stdout).toBeDefined();
    expect(deployed.stdout).toMatch(/Revision 1 is running at http:\/\/203\.0\.113\.\d+:8080/);
    // npm start is shared with other journeys (tests/node/shared-start.ts): this server's own lines.
    expect(service!.output()).toContain(`cloud stand-in: server ${serverName} boots`);

    const destroyed = await stacker(['destroy', '--yes']);
    expect(destroyed, `${destroyed.stdout}\n${destroyed.stderr}`).toMatchObject({ code: 0 });
    expect(destroyed.stdout).toMatch(/deleted at Hetzner Cloud/);
    expect(service!.output()).toContain(`cloud stand-in: server ${serverName} deleted: its agent stand-in stops`);
  });
});
