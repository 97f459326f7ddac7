// Templates and secrets from the command line (issue 28), the real binary against one `npm start`
// (DEPLOY_ENGINE=builtin) and an own server stood in for by try-server: `stacker init --app wordpress`
// writes WordPress with the MariaDB it requires, wired; `service add matomo` links to that MariaDB;
// push, compose (names, no values); `stacker secrets list|show|set|rotate`; and a deploy whose server
// gets the generated password in its .env, the same for WordPress and MariaDB, and nowhere in the
// deploy's output.
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { processAlive, readRegistry } from '../../scripts/stand-ins/docker.ts';
import { spawnStacker, printedBy, type StackerRun } from './helpers.ts';
import { startOwnServer, type OwnServer } from './own-server.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'stacker-cli-templates-'));
const xdg = join(scratch, 'config');
const project = join(scratch, 'blog');
let service: SharedStart | undefined;
let apiUrl = '';
const children: ChildProcess[] = [];
const ownServers: OwnServer[] = [];

type Run = StackerRun;

function start(args: string[], input?: string) {
  const started = spawnStacker(args, { url: apiUrl, xdg, cwd: project, input });
  children.push(started.child);
  return started;
}

const stacker = (args: string[], input?: string) => start(args, input).done;

async function ok(args: string[], input?: string): Promise<Run> {
  const result = await stacker(args, input);
  expect(result, `${args.join(' ')}: ${result.stderr}`).toMatchObject({ code: 0 });
  return result;
}

/** Every file named `name` under `dir`. */
function filesNamed(dir: string, name: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return filesNamed(path, name);
    return entry === name ? [path] : [];
  });
}

beforeAll(async () => {
  mkdirSync(project, { recursive: true });
  service = await sharedLocalService('builtin');
  apiUrl = `http://127.0.0.1:${service.port}`;
  const login = spawnSync(process.execPath, [join(root, 'scripts', 'dev-login.ts'), '--user', 'templates-cli'], { cwd: root, env: { ...process.env, STACKER_DATA_DIR: service.dataDir }, encoding: 'utf8' });
  expect(login.status, login.stderr).toBe(0);
  await ok(['login', '--token', login.stdout.trim()]);
}, 150_000);

afterAll(async () => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  for (const server of ownServers) {
    await server.stop().catch(() => undefined);
    for (const record of readRegistry(server.root)) if (record.pid !== null && processAlive(record.pid)) process.kill(record.pid, 'SIGKILL');
  }
  for (const server of ownServers) rmSync(server.root, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

type Service = { image: string; environment?: Record<string, string>; kind?: string; catalog?: string; depends_on?: unknown; healthcheck?: unknown };
const servicesOf = () => (parse(readFileSync(join(project, 'stacker.yml'), 'utf8')) as { services: Record<string, Service> }).services;

describe('stacker: templates and secrets', () => {
  it('init --app wordpress adds the MariaDB it requires, wired; service add matomo links to it', async () => {
    const init = await ok(['init', '--app', 'wordpress', '--name', 'blog']);
    expect(init.stderr).toContain('Added wordpress (db → mariadb (added))');
    let services = servicesOf();
    expect(Object.keys(services).sort()).toEqual(['mariadb', 'wordpress']);
    expect(services.wordpress).toMatchObject({ image: 'wordpress:6.7', kind: 'web', catalog: 'wordpress' });
    expect(services.mariadb).toMatchObject({ image: 'mariadb:11.4', kind: 'service', catalog: 'mariadb' });
    expect(services.wordpress!.environment).toMatchObject({ WORDPRESS_DB_HOST: 'mariadb', WORDPRESS_DB_PASSWORD: '${MARIADB_PASSWORD}', WORDPRESS_DB_USER: 'app', WORDPRESS_DB_NAME: 'app' });
    expect(services.mariadb!.environment).toMatchObject({ MARIADB_PASSWORD: '${MARIADB_PASSWORD}', MARIADB_USER: 'app', MARIADB_DATABASE: 'app' });
    expect(services.wordpress).toMatchObject({ depends_on: { mariadb: { condition: 'service_healthy' } } });
    expect(services.mariadb).toMatchObject({ healthcheck: { test: ['CMD', 'healthcheck.sh', '--connect', '--innodb_initialized'] } });
    expect(readFileSync(join(project, 'stacker.yml'), 'utf8')).not.toMatch(/change-?me/);

    const add = await ok(['service', 'add', 'matomo']);
    expect(add.stderr).toContain('Added matomo (db → mariadb (already in the stack))');
    services = servicesOf();
    expect(Object.keys(services).sort()).toEqual(['mariadb', 'matomo', 'wordpress']);
    expect(services.matomo!.environment).toMatchObject({ MATOMO_DATABASE_HOST: 'mariadb', MATOMO_DATABASE_PASSWORD: '${MARIADB_PASSWORD}' });
    // An unknown app is refused before stacker.yml is read or written: beside the validation.
    const [, unknown] = await Promise.all([ok(['config', 'validate']), stacker(['service', 'add', 'no-such-app'])]);
    expect(unknown.code).toBe(2);
  }, 60_000);

  it('push keeps the passwords on the server: compose names them; secrets list, show, set, rotate', async () => {
    await ok(['push']);
    // What only reads runs at once; then the changes (to secrets of their own) at once; then the push again.
    const [composed, list, listed, shown] = await Promise.all([ok(['compose']), ok(['secrets', 'list']), ok(['secrets', 'list', '--json']), ok(['secrets', 'show', 'MARIADB_PASSWORD'])]);
    const compose = composed.stdout;
    const document = parse(compose) as { services: Record<string, { environment: Record<string, string>; depends_on?: unknown }> };
    expect(document.services.wordpress!.depends_on).toEqual({ mariadb: { condition: 'service_healthy' } });
    expect(document.services.wordpress!.environment.WORDPRESS_DB_PASSWORD).toBe('${MARIADB_PASSWORD}');
    expect(document.services.mariadb!.environment.MARIADB_PASSWORD).toBe('${MARIADB_PASSWORD}');

    expect(list.stdout).toMatch(/^NAME +VALUE +USED BY +ORIGIN +UPDATED$/m);
    expect(list.stdout).toMatch(/^MARIADB_PASSWORD +\*{8} +wordpress, matomo, mariadb +generated +\S+$/m);
    expect(list.stdout).toMatch(/^MARIADB_ROOT_PASSWORD +\*{8} +mariadb +generated/m);
    const json = JSON.parse(listed.stdout) as Array<{ name: string; value: string }>;
    expect(json.map((secret) => secret.name)).toEqual(['MARIADB_PASSWORD', 'MARIADB_ROOT_PASSWORD']);
    expect(json.every((secret) => secret.value === '********')).toBe(true);

    const password = shown.stdout.trim();
    expect(password).toMatch(/^[A-Za-z0-9]{64}$/);
    expect(compose).not.toContain(password);
    expect(list.stdout).not.toContain(password);

    const rotateTwice = async () => {
      await ok(['secrets', 'rotate', 'MARIADB_ROOT_PASSWORD']);
      const root1 = (await ok(['secrets', 'show', 'MARIADB_ROOT_PASSWORD'])).stdout.trim();
      await ok(['secrets', 'rotate', 'MARIADB_ROOT_PASSWORD']);
      expect((await ok(['secrets', 'show', 'MARIADB_ROOT_PASSWORD'])).stdout.trim()).not.toBe(root1);
    };
    const setAndShow = async () => {
      const set = await ok(['secrets', 'set', 'SMTP_PASSWORD'], 'typed into stdin 4Lp\n');
      expect(set.stderr).toContain('SMTP_PASSWORD set on project "blog"');
      expect((await ok(['secrets', 'show', 'SMTP_PASSWORD'])).stdout).toBe('typed into stdin 4Lp\n');
    };
    const [, , badName, missing] = await Promise.all([rotateTwice(), setAndShow(), stacker(['secrets', 'set', '9-bad', 'x']), stacker(['secrets', 'show', 'NO_SUCH_SECRET'])]);
    expect(badName.code).toBe(2);
    expect(badName.stderr).toContain('is not a secret name');
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toContain('no secret NO_SUCH_SECRET');
    // Pushing stacker.yml again keeps them.
    await ok(['push']);
    expect((await ok(['secrets', 'show', 'MARIADB_PASSWORD'])).stdout.trim()).toBe(password);
  }, 60_000);

  it('deploys: the server gets the one password for WordPress and MariaDB in its .env, and no output shows it', async () => {
    const password = (await ok(['secrets', 'show', 'MARIADB_PASSWORD'])).stdout.trim();
    const deploying = start(['deploy', '--server', 'own', '--address', '127.0.0.1', '--follow']);
    const { child, run, done } = deploying;
    const [, command] = await printedBy(deploying, /^Run this as root on your server:\n\n {2}(curl -fsSL '[^']+' \| sh)\n/m);
    const server = await startOwnServer(command!);
    ownServers.push(server);
    const result = await done;
    expect(result, `${result.stdout}\n${result.stderr}`).toMatchObject({ code: 0 });
    expect(result.stdout).toMatch(/Revision 1 is running at .*http:\/\/127\.0\.0\.1:8084/);
    expect(`${result.stdout}${result.stderr}`).not.toContain(password);
    const status = await ok(['status', '--json']);
    expect(status.stdout).not.toContain(password);

    const [envFile] = filesNamed(server.root, '.env');
    expect(envFile).toBeDefined();
    const values = Object.fromEntries(readFileSync(envFile!, 'utf8').split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(values.MARIADB_PASSWORD).toBe(password);
    expect(values.SMTP_PASSWORD).toBeUndefined();
    const applied = readFileSync(join(envFile!, '..', 'docker-compose.yml'), 'utf8');
    expect(applied).not.toContain(password);
    expect(applied).toContain('WORDPRESS_DB_PASSWORD: ${MARIADB_PASSWORD}');
  }, 120_000);
});
