// The `stacker` command line against one `npm start` with its development OpenID provider and
// install-service stand-in: sign-in (token and loopback flow), init (compose and catalog), validate,
// push, deploy --follow to completed and to failed, a dropped connection while following, and agent
// commands answered by a simulated agent.
// `npx stacker` runs the real binary (cli/stacker/bin.js, from the source); the other steps run the
// run's bundle of the same source (spawnStacker in helpers.ts).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { playBrowserAtDevProvider, signInAtDevProvider } from '../../scripts/dev-openid-provider.ts';
import { readLocalRun } from '../../scripts/local-run.ts';
import { spawnStacker, type StackerRun } from './helpers.ts';
import { sharedLocalService, type SharedStart } from './shared-start.ts';

const root = join(import.meta.dirname, '..', '..');
const scratch = mkdtempSync(join(tmpdir(), 'stacker-cli-'));
const xdg = join(scratch, 'config');
const project = join(scratch, 'shop');
let service: SharedStart;
let apiUrl = '';
let issuer = '';
const children: ChildProcess[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  mkdirSync(project, { recursive: true });
  // Deploys through npm start's install-service stand-in (the built-in engine's journey:
  // stacker-cli-engine.test.ts); the npm start is shared with browser-pages.test.ts (tests/node/shared-start.ts).
  service = await sharedLocalService('install-service');
  apiUrl = `http://127.0.0.1:${service.port}`;
  issuer = readLocalRun(service.dataDir)!.services.OAUTH_ISSUER!;
  // A first start migrates the database, and under the whole suite's load on 2 cores that took over 60 s once.
}, 150_000);

afterAll(async () => {
  for (const child of children) child.kill('SIGTERM');
  for (const server of servers) server.closeAllConnections();
  if (process.env.STACKER_CLI_DEBUG) writeFileSync(process.env.STACKER_CLI_DEBUG, service?.output() ?? '');
  rmSync(scratch, { recursive: true, force: true });
});

type Run = StackerRun;

/** Runs the CLI as a person's shell would: its own Node from node_modules/.bin on PATH. */
function start(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  const started = spawnStacker(args, { url: apiUrl, xdg, cwd: options.cwd ?? project, env: options.env });
  children.push(started.child);
  return started;
}

const stacker = (args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) => start(args, options).done;

const credentials = () => JSON.parse(readFileSync(join(xdg, 'stacker', 'credentials.json'), 'utf8')) as { servers: Record<string, { access_token: string; method: string }> };
const token = () => credentials().servers[apiUrl]!.access_token;

async function api(path: string, init: { method?: string; body?: unknown } = {}) {
  const response = await fetch(`${apiUrl}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token()}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: (await response.json()) as { item?: Record<string, unknown>; list?: Array<Record<string, unknown>> } };
}

/** Resolves with the first match of `pattern` in what the child has printed so far or prints next. */
function waitFor(child: ChildProcess, run: Run, stream: 'stdout' | 'stderr', pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(run[stream]);
      if (match) resolve(match);
      return Boolean(match);
    };
    if (check()) return;
    child[stream]!.on('data', () => setImmediate(check));
    child.once('close', () => setImmediate(() => check() || reject(new Error(`exited before printing ${pattern}:\n${run.stdout}\n${run.stderr}`))));
  });
}

const COMPOSE = `services:
  web:
    image: nginx:1.27
    build: ./web
    ports:
      - "8080:80"
      - "127.0.0.1:8443:443"
    environment:
      NGINX_HOST: shop.example.com
      WORKERS: 4
      DB_HOST: db
    volumes:
      - ./html:/usr/share/nginx/html:ro
      - ./nginx.conf:/etc/nginx/conf.d/default.conf:ro
    networks: [front]
    restart: always
    depends_on:
      db:
        condition: service_healthy
    healthcheck:
      test: ["CMD", "curl", "-f", "http://localhost/"]
      interval: 30s
    command: ["nginx", "-g", "daemon off;"]
    user: "101:101"
    labels:
      com.example.team: shop
  db:
    image: postgres:16
    environment:
      - POSTGRES_PASSWORD=secret
      - POSTGRES_DB=shop
    volumes:
      - pgdata:/var/lib/postgresql/data
    healthcheck:
      test: ["CMD", "pg_isready"]
      interval: 10s
      retries: 5
    networks:
      front: {}
networks:
  front:
    driver: bridge
volumes:
  pgdata: {}
`;

describe('stacker: the binary', () => {
  it('runs as `npx stacker` from the repository, and from the system Node through its launcher', async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, PATH: '/usr/local/bin:/usr/bin:/bin' };
    // Each run only prints: all at once.
    const npxRun = new Promise<Run>((resolve) => {
      const child = spawn('npx', ['stacker', '--version'], { cwd: root, env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += String(chunk)));
      child.stderr.on('data', (chunk) => (stderr += String(chunk)));
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
    const [npx, help, wrong, completion, zsh, fish] = await Promise.all([
      npxRun,
      stacker(['deploy', '--help']),
      stacker(['deploy', '--clod', 'x']),
      stacker(['completion', 'bash']),
      stacker(['completion', 'zsh']),
      stacker(['completion', 'fish']),
    ]);
    expect(npx, npx.stderr).toMatchObject({ code: 0 });
    expect(npx.stdout.trim()).toBe('0.1.0');
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Examples:');
    expect(help.stdout).toContain('$ stacker deploy --cloud htz --follow');
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^stacker: unknown option '--clod'/);
    expect(completion.stdout).toContain('complete -o default -F _stacker_complete stacker');
    expect(completion.stdout).toContain('"agent") candidates="health status apps history logs restart exec');
    expect(zsh, zsh.stderr).toMatchObject({ code: 0 });
    expect(zsh.stdout).toMatch(/^#compdef stacker/);
    expect(zsh.stdout).toContain('deploy');
    expect(fish.code).toBe(2);
  }, 30_000);
});

describe('stacker: sign-in', () => {
  it('login --token checks and saves the token (mode 0600, never printed); whoami; logout', async () => {
    const given = await signInAtDevProvider(issuer, { name: 'cli-ci', role: 'user' });
    const login = await stacker(['login', '--token', given]);
    expect(login, login.stderr).toMatchObject({ code: 0 });
    expect(login.stderr).toContain(`Signed in to ${apiUrl} as cli-ci`);
    expect(login.stdout + login.stderr).not.toContain(given);
    const file = join(xdg, 'stacker', 'credentials.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(credentials().servers[apiUrl]).toMatchObject({ access_token: given, method: 'token' });
    const me = await stacker(['whoami', '--json']);
    expect(JSON.parse(me.stdout)).toMatchObject({ kind: 'user', user_id: 'cli-ci' });
    expect(me.stdout).not.toContain(given);
    expect(await stacker(['logout'])).toMatchObject({ code: 0 });
    const after = await stacker(['whoami']);
    expect(after.code).toBe(3);
    expect(after.stderr.trim()).toBe(`stacker: not signed in to ${apiUrl}: run \`stacker login\` (or set STACKER_TOKEN)`);
    // A JWT the provider did not sign.
    const refused = await stacker(['login', '--token', 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl']);
    expect(refused, refused.stderr).toMatchObject({ code: 3 });
  }, 30_000);

  it('login signs in through the browser: code + PKCE, the provider redirecting to the loopback', async () => {
    const { child, run, done } = start(['login', '--no-browser']);
    const [url] = await waitFor(child, run, 'stderr', /http:\/\/127\.0\.0\.1:\d+\/auth\?\S+/);
    const authorize = new URL(url);
    expect(authorize.searchParams.get('client_id')).toBe('stacker-cli');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    const redirect = authorize.searchParams.get('redirect_uri')!;
    expect(redirect).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    // The test is the browser: the provider's form, then the redirect back to the CLI's loopback server.
    const landed = await playBrowserAtDevProvider(url, { name: 'cli-user', role: 'user' }, redirect);
    const page = await fetch(landed);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('Signed in');
    const result = await done;
    expect(result, result.stderr).toMatchObject({ code: 0 });
    expect(result.stderr).toContain('as cli-user');
    expect(credentials().servers[apiUrl]).toMatchObject({ method: 'browser' });
    const me = await stacker(['whoami']);
    expect(me.stdout).toContain('cli-user (user, group_user)');
  }, 30_000);
});

describe('stacker: stacker.yml', () => {
  it('init --from-compose keeps every service as it is, db and depends_on included, and names what it cannot carry', async () => {
    writeFileSync(join(project, 'docker-compose.yml'), COMPOSE);
    writeFileSync(join(project, 'nginx.conf'), 'server {}\n');
    const init = await stacker(['init', '--from-compose', 'docker-compose.yml']);
    expect(init, init.stderr).toMatchObject({ code: 0 });
    expect(init.stderr).toContain('note: service "web": build: not carried over (Stacker deploys images)');
    expect(init.stderr).toContain('note: service "web": the bind mount of the local file ./nginx.conf (/etc/nginx/conf.d/default.conf) is not carried over');
    expect(init.stderr).not.toContain('renamed');
    const file = parse(readFileSync(join(project, 'stacker.yml'), 'utf8'));
    expect(file).toEqual({
      name: 'shop',
      services: {
        web: {
          image: 'nginx:1.27',
          ports: ['8080:80', '127.0.0.1:8443:443'],
          environment: { NGINX_HOST: 'shop.example.com', WORKERS: '4', DB_HOST: 'db' },
          volumes: ['./html:/usr/share/nginx/html:ro'],
          networks: ['front'],
          restart: 'always',
          depends_on: { db: { condition: 'service_healthy' } },
          healthcheck: { test: ['CMD', 'curl', '-f', 'http://localhost/'], interval: '30s' },
          command: ['nginx', '-g', 'daemon off;'],
          user: '101:101',
          labels: { 'com.example.team': 'shop' },
        },
        db: {
          image: 'postgres:16',
          environment: { POSTGRES_PASSWORD: 'secret', POSTGRES_DB: 'shop' },
          volumes: ['pgdata:/var/lib/postgresql/data'],
          networks: ['front'],
          restart: 'no',
          healthcheck: { test: ['CMD', 'pg_isready'], interval: '10s', retries: 5 },
        },
      },
      networks: { front: { driver: 'bridge' } },
    });
    const dir = join(scratch, 'built');
    mkdirSync(dir);
    writeFileSync(join(dir, 'docker-compose.yml'), 'services:\n  api:\n    build: .\n');
    // None of these writes a file (the second init is refused, the third in a folder of its own): at once.
    const [validate, again, built] = await Promise.all([
      stacker(['config', 'validate']),
      stacker(['init', '--from-compose', 'docker-compose.yml']),
      stacker(['init', '--from-compose', 'docker-compose.yml'], { cwd: dir }),
    ]);
    expect(validate, validate.stderr).toMatchObject({ code: 0 });
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('stacker.yml exists already: pass --force');
    expect(built.code).toBe(4);
    expect(built.stderr).toContain('services.api.build: service "api" has no image but build:');
  });

  it('init --app takes apps from the server catalog; service add adds more', async () => {
    const dir = join(scratch, 'blog');
    mkdirSync(dir);
    // service list reads the catalog only: beside the rest.
    const listing = stacker(['service', 'list', '--json']);
    const init = await stacker(['init', '--app', 'nginx', '--app', 'postgres', '--app', 'nginx'], { cwd: dir });
    expect(init, init.stderr).toMatchObject({ code: 0 });
    const file = parse(readFileSync(join(dir, 'stacker.yml'), 'utf8'));
    expect(Object.keys(file.services)).toEqual(['nginx', 'postgres', 'nginx-2']);
    expect(file.services.nginx).toMatchObject({ image: expect.stringMatching(/^nginx:/), kind: 'web', catalog: 'nginx' });
    expect(file.services.postgres).toMatchObject({ image: expect.stringMatching(/^postgres:/), kind: 'service' });
    const [first] = file.services.nginx.ports as string[];
    const [second] = file.services['nginx-2'].ports as string[];
    expect(Number(second!.split(':')[0])).toBe(Number(first!.split(':')[0]) + 1);
    const add = await stacker(['service', 'add', 'redis'], { cwd: dir });
    expect(add, add.stderr).toMatchObject({ code: 0 });
    expect(Object.keys(parse(readFileSync(join(dir, 'stacker.yml'), 'utf8')).services)).toContain('redis');
    // The first line points editors at the schema the server publishes, and the server serves it there.
    const schemaLine = /^# yaml-language-server: \$schema=(\S+)\n# stacker\.yml/.exec(readFileSync(join(dir, 'stacker.yml'), 'utf8'));
    expect(schemaLine?.[1]).toBe(`${apiUrl}/schema/stacker.schema.json`);
    expect(((await (await fetch(schemaLine![1]!)).json()) as { title: string }).title).toBe('stacker.yml');
    expect((await stacker(['config', 'validate'], { cwd: dir })).code).toBe(0);
    const unknown = await stacker(['init', '--app', 'no-such-app', '--force'], { cwd: dir });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no app "no-such-app" in the catalog');
    const list = await listing;
    expect((JSON.parse(list.stdout) as Array<{ code: string }>).map((app) => app.code)).toContain('wordpress');
  });

  it('config validate names the line and field of every problem', async () => {
    const dir = join(scratch, 'broken');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'stacker.yml'),
      ['name: broken', 'services:', '  web:', '    image: nginx', '    ports:', '      - "8080:80"', '      - "99999:80"', '    restrt: always', '  api:', '    ports: ["9000"]', ''].join('\n'),
    );
    // All of them only read: at once.
    const [validate, json, push, schemaRun] = await Promise.all([
      stacker(['config', 'validate'], { cwd: dir }),
      stacker(['config', 'validate', '--json'], { cwd: dir }),
      stacker(['push'], { cwd: dir }),
      stacker(['config', 'schema']),
    ]);
    expect(validate.code).toBe(4);
    expect(validate.stderr.trim().split('\n')).toEqual([
      'stacker.yml:7:9: services.web.ports.1: a port is "HOST:CONTAINER", "127.0.0.1:HOST:CONTAINER", "HOST:CONTAINER/udp" or "CONTAINER" (not published), each 10 to 65535',
      'stacker.yml:8:5: services.web.restrt: unknown field "restrt"',
      'stacker.yml:10:5: services.api.image: is required',
    ]);
    expect(JSON.parse(json.stdout).problems[0]).toEqual({ line: 7, column: 9, field: 'services.web.ports.1', message: expect.any(String) });
    expect(push.code).toBe(4);
    expect(push.stderr).toContain('stacker.yml:8:5: services.web.restrt: unknown field "restrt"');
    const schema = JSON.parse(readFileSync(join(root, 'schema', 'stacker.schema.json'), 'utf8'));
    expect(JSON.parse(schemaRun.stdout)).toEqual(schema);
  });
});

describe('stacker: push, deploy, follow', () => {
  let projectId = 0;

  it('push twice makes one project; compose prints what the server generates', async () => {
    const first = await stacker(['push']);
    expect(first, first.stderr).toMatchObject({ code: 0 });
    projectId = Number(/Created project "shop" \(id (\d+)\)/.exec(first.stdout)?.[1]);
    expect(projectId).toBeGreaterThan(0);
    const second = await stacker(['push', '--json']);
    expect(second, second.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(second.stdout)).toMatchObject({ id: projectId, name: 'shop' });
    const [listed, compose] = await Promise.all([api('/project'), stacker(['compose'])]);
    const projects = listed.body.list!.filter((row) => row.name === 'shop');
    expect(projects).toHaveLength(1);
    const services = parse(compose.stdout).services;
    expect(services).toMatchObject({ web: { image: 'nginx:1.27', ports: expect.arrayContaining([{ published: 8080, target: 80 }]) }, db: { image: 'postgres:16' } });
    // The round trip (compose → init → push → compose) keeps what compose said: db, depends_on with its condition, the address of a port.
    expect(services.web).toMatchObject({
      depends_on: { db: { condition: 'service_healthy' } },
      healthcheck: { test: ['CMD', 'curl', '-f', 'http://localhost/'], interval: '30s' },
      command: ['nginx', '-g', 'daemon off;'],
      user: '101:101',
      labels: { 'com.example.team': 'shop' },
      environment: { DB_HOST: 'db' },
      volumes: [{ type: 'bind', source: './html', target: '/usr/share/nginx/html', read_only: true }],
    });
    expect(services.web.ports).toContainEqual({ target: 443, published: 8443, host_ip: '127.0.0.1' });
    expect(compose.stdout).not.toMatch(/^version:/m);
  }, 30_000);

  it('deploy --follow prints each event once and exits 0 on completed', async () => {
    expect((await api('/cloud', { method: 'POST', body: { provider: 'htz', cloud_token: 'htz-token-for-tests', save_token: true } })).status).toBe(201);
    // clouds only reads: beside the deploy.
    const [clouds, deploy] = await Promise.all([stacker(['clouds']), stacker(['deploy', '--cloud', 'htz', '--follow'])]);
    expect(clouds.stdout).toMatch(/^\d+\s+htz\s/m);
    expect(clouds.stdout).not.toContain('htz-token-for-tests');
    expect(deploy, deploy.stderr).toMatchObject({ code: 0 });
    const lines = deploy.stdout.split('\n').filter((line) => line.startsWith('#'));
    expect(lines.map((line) => Number(/^#(\d+)/.exec(line)![1]))).toEqual(lines.map((_, index) => index + 1));
    expect(lines[0]).toMatch(/^#1 created pending\s+0% Queued for the install service/);
    expect(lines.at(-1)).toMatch(/^#\d+ progress completed 100% Deployed/);
    expect(deploy.stdout).toMatch(/Deployment \d+ completed\n$/);
    const [statusRun, logs] = await Promise.all([stacker(['status', '--json']), stacker(['logs'])]);
    const status = JSON.parse(statusRun.stdout);
    expect(status).toMatchObject({ status: 'completed', progress: 100 });
    expect(logs.stdout.split('\n').filter((line) => line.startsWith('#'))).toEqual(lines);
  }, 30_000);

  it('deploy --follow exits non-zero when the deployment fails, with its reason', async () => {
    const deploy = await stacker(['deploy', '--cloud', 'htz', '--server', 'local-fail', '--follow']);
    expect(deploy.code).toBe(1);
    expect(deploy.stdout).toMatch(/^#\d+ progress failed\s+50% Installing Docker failed/m);
    expect(deploy.stderr.trim()).toMatch(/^stacker: deployment \d+ ended failed: Installing Docker failed \(local stand-in: the server type is "local-fail"\)$/);
    expect((await stacker(['deployments', '--json'])).stdout).toContain('"status": "failed"');
  }, 30_000);

  it('cancel stops the running deployment; servers lists the project\'s server', async () => {
    // local-hold: the stand-in does not end this deployment by itself, so the cancel finds it running
    // however long the CLI takes to start (a plain deploy ends in ~4 s, and did before the cancel once).
    const started = await stacker(['deploy', '--cloud', 'htz', '--server', 'local-hold', '--json']);
    expect(started, started.stderr).toMatchObject({ code: 0 });
    const deploymentId = (JSON.parse(started.stdout) as { deployment_id: number }).deployment_id;
    const cancel = await stacker(['cancel', '--deployment', String(deploymentId)]);
    expect(cancel, cancel.stderr).toMatchObject({ code: 0 });
    expect(cancel.stdout.trim()).toBe(`Deployment ${deploymentId}: cancelled`);
    const [again, serversRun] = await Promise.all([stacker(['cancel', '--deployment', String(deploymentId)]), stacker(['servers', '--json'])]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already ended \(cancelled\)/);
    const servers = JSON.parse(serversRun.stdout) as Array<{ project_id: number }>;
    expect(servers.map((server) => server.project_id)).toContain(projectId);
  }, 30_000);

  it('a dropped connection while following resumes after the last event: no line repeated, none lost', async () => {
    // A proxy that forwards everything, but loses the answer of the second events request: the server
    // answered it (the events are read), the connection is cut before the CLI gets them.
    let eventRequests = 0;
    const proxy = createServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const headers = Object.fromEntries(Object.entries(req.headers).filter(([name]) => !['host', 'connection', 'content-length'].includes(name))) as Record<string, string>;
      const upstream = await fetch(`${apiUrl}${req.url}`, { method: req.method, headers, body: chunks.length ? Buffer.concat(chunks) : undefined });
      const body = Buffer.from(await upstream.arrayBuffer());
      if (req.url!.includes('/events?') && ++eventRequests === 2) {
        req.socket.destroy();
        return;
      }
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(body);
    });
    servers.push(proxy);
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', () => resolve()));
    const address = proxy.address();
    const proxyUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    const env = { STACKER_URL: proxyUrl, STACKER_TOKEN: token() };
    const { done } = start(['deploy', '--cloud', 'htz', '--follow'], { env });
    const deploy = await done;
    proxy.close();
    expect(deploy, deploy.stderr).toMatchObject({ code: 0 });
    expect(eventRequests).toBeGreaterThanOrEqual(3);
    expect(deploy.stderr).toMatch(/connection lost: resuming after event #\d+/);
    const seqs = deploy.stdout.split('\n').filter((line) => line.startsWith('#')).map((line) => Number(/^#(\d+)/.exec(line)![1]));
    expect(seqs).toEqual(seqs.map((_, index) => index + 1));
    expect(deploy.stdout).toMatch(/^#\d+ progress completed 100% Deployed/m);
  }, 40_000);

  it('agent exec, restart, health and history, answered by a simulated agent', async () => {
    const status = JSON.parse((await stacker(['status', '--json'])).stdout) as { deployment_hash: string };
    const simulated = spawn(process.execPath, [join(root, 'tests', 'helpers', 'agent-process.ts'), apiUrl, status.deployment_hash], { cwd: root });
    children.push(simulated);
    const out = { code: null, stdout: '', stderr: '' };
    simulated.stdout.on('data', (chunk) => (out.stdout += String(chunk)));
    simulated.stderr.on('data', (chunk) => (out.stderr += String(chunk)));
    await waitFor(simulated, out, 'stdout', /^registered \S+/m);

    // Refused before a command is queued, or only reading: beside the commands the agent runs.
    const others = Promise.all([stacker(['agent', 'exec', 'health', '--params', '{nope']), stacker(['agent', 'exec', 'health', '--params', '{}']), stacker(['agent', 'status', '--json'])]);
    const exec = await stacker(['agent', 'exec', 'health', '--params', '{"app_code":"web"}', '--json', '--timeout', '20']);
    expect(exec, exec.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(exec.stdout)).toMatchObject({ type: 'health', status: 'completed', result: { app_code: 'web', status: 'ok' } });
    const restart = await stacker(['agent', 'restart', 'web', '--timeout', '20']);
    expect(restart, restart.stderr).toMatchObject({ code: 0 });
    expect(restart.stdout).toMatch(/^restart cmd_\S+: completed\n/);
    expect(parse(restart.stdout.split('\n').slice(1).join('\n'))).toEqual({ restarted: 'web', status: 'running' });
    expect(out.stdout).toMatch(/took cmd_\S+ restart/);
    const history = await stacker(['agent', 'history']);
    expect(history.stdout).toMatch(/cmd_\S+\s+restart\s+completed/);
    expect(history.stdout).toMatch(/cmd_\S+\s+health\s+completed/);

    const [badJson, refused, agentStatus] = await others;
    expect(badJson.code).toBe(2);
    expect(badJson.stderr).toMatch(/^stacker: --params is not JSON/);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('  body.parameters.app_code: ');
    expect(agentStatus, agentStatus.stderr).toMatchObject({ code: 0 });
    expect(JSON.parse(agentStatus.stdout)).toMatchObject({ deployment_hash: status.deployment_hash });
  }, 40_000);

  it('an agent command nobody answers ends with a timeout (exit 6) that says what to check', async () => {
    const deployments = async () => (JSON.parse((await stacker(['deployments', '--json'])).stdout) as unknown[]).length;
    const before = await deployments();
    // The latest deployment's agent (the simulated one) is stopped first.
    for (const child of children.splice(0)) child.kill('SIGTERM');
    const waited = await stacker(['agent', 'exec', 'server_resources', '--timeout', '2']);
    expect(waited.code).toBe(6);
    expect(waited.stderr).toMatch(/^stacker: the agent has not reported server_resources \(cmd_\S+\) within 2 s: is it running\?/);
    expect(await deployments()).toBe(before);
  }, 20_000);
});
