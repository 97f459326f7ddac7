// `npm run try-server` and its stand-ins (scripts/try-server.ts, scripts/stand-ins/): an install-like
// `docker run … trydirect/status:v0.2.1` run through try-server --detach starts the agent stand-in,
// which long-polls a fake control plane (below) with the real agent's signed requests and answers
// deploy_app, health and remove_app in the v0.2.1 agent's shapes, on files under a temporary root.
import { spawn } from 'node:child_process';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { runAgentStandIn, type AgentStandInHandle } from '../../scripts/stand-ins/agent.ts';
import { processAlive, readRegistry } from '../../scripts/stand-ins/docker.ts';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '../..');
const NODE = join(REPO, 'node_modules/.bin/node');
const DOCKER = join(REPO, 'scripts/stand-ins/docker');

interface Report {
  command_id: string;
  completed_at: string;
  deployment_hash: string;
  status: 'success' | 'failed';
  error: string | null;
  errors?: { code: string; message: string; details?: string }[];
  executed_by?: string;
  result?: Record<string, any>;
}

type Event =
  | { kind: 'poll'; n: number; timeout: string | null }
  | { kind: 'poll-closed'; n: number }
  | { kind: 'report'; body: Report }
  | { kind: 'app-status'; body: { deployment_hash: string; app_code: string; status: string; logs: string[]; timestamp: string } };

/** A control plane as the agent sees it: wait, report and apps/status, every request's signature checked. */
class FakeControlPlane {
  readonly token = `tok-${randomBytes(24).toString('hex')}`;
  readonly agentId = randomUUID();
  readonly hash = `try${randomBytes(6).toString('hex')}`;
  readonly events: Event[] = [];
  readonly authFailures: string[] = [];
  url = '';
  #server: Server;
  #queue: object[] = [];
  #waiting: ServerResponse | undefined;
  #polls = 0;
  #listeners = new Set<() => void>();

  constructor() {
    this.#server = createServer((request, response) => void this.#handle(request, response));
  }

  async start(): Promise<this> {
    await new Promise<void>((done) => this.#server.listen(0, '127.0.0.1', done));
    this.url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((done) => this.#server.close(done));
  }

  /** The first event from index `from` on that satisfies `test`, now or when it comes. */
  when<T extends Event>(test: (event: Event) => event is T, from?: number): Promise<T>;
  when(test: (event: Event) => boolean, from?: number): Promise<Event>;
  when(test: (event: Event) => boolean, from = 0): Promise<Event> {
    return new Promise((done) => {
      const check = () => {
        const found = this.events.slice(from).find(test);
        if (!found) return false;
        this.#listeners.delete(check);
        done(found);
        return true;
      };
      if (!check()) this.#listeners.add(check);
    });
  }

  /** Queues a command (answering the open poll if there is one) and resolves with its report. */
  async run(type: string, parameters: unknown): Promise<Report> {
    const command = { command_id: randomUUID(), type, parameters, deployment_hash: this.hash, status: 'sent', priority: 'normal' };
    const waiting = this.#waiting;
    this.#waiting = undefined;
    if (waiting) this.#json(waiting, 200, { item: command });
    else this.#queue.push(command);
    const event = await this.when((e): e is Extract<Event, { kind: 'report' }> => e.kind === 'report' && e.body.command_id === command.command_id);
    return event.body;
  }

  get pollCount() {
    return this.#polls;
  }

  #emit(event: Event) {
    this.events.push(event);
    for (const listener of [...this.#listeners]) listener();
  }

  #json(response: ServerResponse, status: number, body: unknown) {
    response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  }

  /** What Stacker checks of an agent request (agent-protocol §1.3): bearer, agent id, fresh timestamp, uuid, HMAC of the body. */
  #authProblem(request: IncomingMessage, body: string): string | undefined {
    const header = (name: string) => request.headers[name] as string | undefined;
    if (header('authorization') !== `Bearer ${this.token}`) return 'bearer';
    if (header('x-agent-id') !== this.agentId) return 'agent id';
    if (Math.abs(Number(header('x-timestamp')) - Date.now() / 1000) > 300) return 'timestamp';
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(header('x-request-id') ?? '')) return 'request id';
    if (header('x-agent-signature') !== createHmac('sha256', this.token).update(body).digest('base64')) return 'signature';
    if (request.method === 'POST' && header('content-type') !== 'application/json') return 'content type';
    return undefined;
  }

  async #handle(request: IncomingMessage, response: ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    const url = new URL(request.url ?? '/', this.url);
    const problem = this.#authProblem(request, body);
    if (problem) {
      this.authFailures.push(`${request.method} ${url.pathname}: ${problem}`);
      return this.#json(response, 401, { message: 'unauthorized' });
    }
    if (request.method === 'GET' && url.pathname === `/api/v1/agent/commands/wait/${this.hash}`) {
      const n = ++this.#polls;
      this.#emit({ kind: 'poll', n, timeout: url.searchParams.get('timeout') });
      const next = this.#queue.shift();
      if (next) return this.#json(response, 200, { item: next });
      this.#waiting = response;
      response.on('close', () => {
        if (this.#waiting === response) this.#waiting = undefined;
        if (!response.writableFinished) this.#emit({ kind: 'poll-closed', n });
      });
      return;
    }
    if (request.method === 'POST' && url.pathname === '/api/v1/agent/commands/report') {
      this.#emit({ kind: 'report', body: JSON.parse(body) as Report });
      return this.#json(response, 200, { message: 'ok' });
    }
    if (request.method === 'POST' && url.pathname === '/api/v1/apps/status') {
      this.#emit({ kind: 'app-status', body: JSON.parse(body) });
      return this.#json(response, 200, { message: 'ok' });
    }
    this.#json(response, 404, { message: 'not found' });
  }
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = spawn(file, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/** Every file under a folder, for the check that no stand-in wrote the agent token anywhere. */
function filesUnder(folder: string): string[] {
  return readdirSync(folder, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

const healthy = (entry: { container_state: string; status: string }) => entry.container_state === 'running' && entry.status === 'ok';
const codes = (report: Report) => report.errors?.map((error) => error.code);

const WEB_AND_DB = `services:
  web:
    image: nginx:1.27
    ports:
      - "8080:80"
    depends_on:
      - db
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: \${DB_PASSWORD}
      POSTGRES_DB: \${DB_NAME:-app}
`;

const stoppers: (() => unknown)[] = [];
const roots: string[] = [];

afterAll(async () => {
  for (const stop of stoppers.reverse()) await stop();
  // Whatever agent stand-in a test left running under its root (docker rm -f stops them otherwise).
  for (const root of roots) {
    for (const record of readRegistry(root)) if (record.pid !== null && processAlive(record.pid)) process.kill(record.pid, 'SIGKILL');
    rmSync(root, { recursive: true, force: true });
  }
});

describe('try-server with the docker and agent stand-ins', () => {
  const plane = new FakeControlPlane();
  let root = '';
  let agentPid = 0;
  let projectDir = '';
  const outputs: string[] = [];

  const docker = async (...args: string[]) => {
    const ran = await run(DOCKER, args, { ...process.env, STACKER_INSTALL_ROOT: root });
    outputs.push(ran.stdout, ran.stderr);
    return ran;
  };
  const containers = async () => (await plane.run('health', { app_code: 'all' })).result!.containers as { app_code: string; container_name: string; container_state: string; status: string }[];

  beforeAll(async () => {
    await plane.start();
    stoppers.push(() => plane.stop());
    const install = [
      'docker run -d --name stacker-agent --restart unless-stopped',
      `-e DASHBOARD_URL=${plane.url} -e DEPLOYMENT_HASH=${plane.hash} -e AGENT_ID=${plane.agentId} -e AGENT_TOKEN=${plane.token}`,
      `-e COMPOSE_PROJECT_DIR=/home/trydirect/${plane.hash} -v /home/trydirect:/home/trydirect`,
      '-v /var/run/docker.sock:/var/run/docker.sock trydirect/status:v0.2.1',
    ].join(' ');
    const ran = await run(NODE, ['scripts/try-server.ts', '--detach', install]);
    outputs.push(ran.stdout, ran.stderr);
    root = /stand-in root \(the server's \/\): (.+)$/m.exec(ran.stdout)?.[1] ?? '';
    if (root) roots.push(root);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/stand-in server: it runs no container/);
    expect(ran.stdout).toMatch(/stop it with: .*docker rm -f stacker-agent/);
    projectDir = join(root, 'home/trydirect', plane.hash);
  });

  it('starts an agent stand-in that long-polls with the real agent’s signed requests', async () => {
    const poll = await plane.when((e): e is Extract<Event, { kind: 'poll' }> => e.kind === 'poll');
    expect(poll.timeout).toBe('30');
    expect(plane.authFailures).toEqual([]);

    const [record] = readRegistry(root);
    expect(record).toMatchObject({ name: 'stacker-agent', image: 'trydirect/status:v0.2.1', restart: 'unless-stopped' });
    expect(record!.id).toMatch(/^[0-9a-f]{64}$/);
    expect(processAlive(record!.pid)).toBe(true);
    agentPid = record!.pid!;

    const [run] = readFileSync(join(root, 'var/lib/stacker-stand-in/docker-runs.jsonl'), 'utf8').trim().split('\n').map((line) => JSON.parse(line));
    expect(run.env).toMatchObject({ DEPLOYMENT_HASH: plane.hash, AGENT_ID: plane.agentId, AGENT_TOKEN: '***' });
    expect(run.mounts).toContainEqual({ source: '/var/run/docker.sock', target: '/var/run/docker.sock', readOnly: false });
    expect(readFileSync(record!.log!, 'utf8')).toMatch(/stand-in for trydirect\/status v0\.2\.1 .*runs no container/);
  });

  it('deploy_app writes the compose file and a 0600 .env and starts the service with its dependencies; health lists every container', async () => {
    const report = await plane.run('deploy_app', { app_code: 'web', compose_content: WEB_AND_DB, env_vars: { DB_PASSWORD: 'db-secret-1' } });
    expect(report).toMatchObject({ status: 'success', error: null, deployment_hash: plane.hash });
    expect(report.completed_at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(report.result).toMatchObject({ type: 'deploy_app', app_code: 'web', status: 'deployed', container_state: 'running', runtime: 'runc', warnings: null });

    expect(readFileSync(join(projectDir, 'docker-compose.yml'), 'utf8')).toBe(WEB_AND_DB);
    expect(readFileSync(join(projectDir, '.env'), 'utf8')).toBe('DB_PASSWORD=db-secret-1');
    expect(statSync(join(projectDir, '.env')).mode & 0o777).toBe(0o600);

    const from = plane.events.length;
    const all = await plane.run('health', { app_code: 'all' });
    expect(all.status).toBe('success');
    expect(all.result).toMatchObject({ type: 'all_health', status: 'ok' });
    const names = (all.result!.containers as { container_name: string }[]).map((c) => c.container_name).sort();
    expect(names).toEqual([`${plane.hash}-db-1`, `${plane.hash}-web-1`, 'stacker-agent'].sort());
    expect(all.result!.containers.every(healthy)).toBe(true);
    // As v0.2.1 does, after health the app's status is posted, here for app_code "all" (no container_state: "error").
    const posted = await plane.when((e): e is Extract<Event, { kind: 'app-status' }> => e.kind === 'app-status' && e.body.app_code === 'all', from);
    expect(posted.body).toMatchObject({ deployment_hash: plane.hash, app_code: 'all', status: 'error', logs: ['status=ok container_state=unknown'] });

    const one = await plane.run('health', { app_code: 'web' });
    expect(one.result).toMatchObject({ type: 'health', app_code: 'web', status: 'ok', container_state: 'running' });
    await plane.when((e) => e.kind === 'app-status' && e.body.app_code === 'web' && e.body.status === 'running');
  });

  it('deploy_app reports a compose file that docker compose would refuse as failed, saying why', async () => {
    const invalid = await plane.run('deploy_app', { app_code: 'web', compose_content: 'services:\n  web:\n    imagee: nginx\n' });
    expect(invalid.status).toBe('failed');
    expect(invalid.error).toMatch(/^Docker compose up failed: validating .*docker-compose\.yml: services\.web additional properties 'imagee' not allowed/);
    expect(codes(invalid)).toEqual(['pull_warning', 'deploy_failed']);
    // The file is written before compose reads it, the old one kept beside it.
    expect(readdirSync(projectDir).some((name) => name.startsWith('docker-compose.yml.stacker-bak-'))).toBe(true);

    const unset = await plane.run('deploy_app', { app_code: 'web', compose_content: 'services:\n  web:\n    image: nginx\n    environment:\n      KEY: ${API_KEY}\n' });
    expect(unset.status).toBe('failed');
    expect(unset.error).toMatch(/"API_KEY" variable is not set/);
  });

  it('deploy_app of an image that cannot be pulled fails as docker compose up does', async () => {
    const report = await plane.run('deploy_app', { app_code: 'web', compose_content: 'services:\n  web:\n    image: stand-in/pull-fails:1.0\n' });
    expect(report.status).toBe('failed');
    expect(report.error).toMatch(/^Docker compose up failed: Error response from daemon: pull access denied for stand-in\/pull-fails/);
    expect(codes(report)).toEqual(['pull_warning', 'deploy_failed']);
    expect(report.result).toMatchObject({ type: 'deploy_app', status: 'failed', container_state: 'failed' });
  });

  it('a service of the unhealthy image is exited: health is degraded', async () => {
    const compose = `${WEB_AND_DB}  worker:\n    image: stand-in/unhealthy:latest\n`;
    const report = await plane.run('deploy_app', { app_code: 'worker', compose_content: compose, env_vars: { DB_PASSWORD: 'db-secret-1' } });
    expect(report.status).toBe('success');
    expect(report.result).toMatchObject({ status: 'deployed', container_state: 'exited' });

    const all = await plane.run('health', { app_code: 'all' });
    expect(all.result!.status).toBe('degraded');
    const worker = (all.result!.containers as { container_name: string }[]).find((c) => c.container_name === `${plane.hash}-worker-1`);
    expect(worker).toMatchObject({ container_state: 'exited', status: 'unhealthy' });

    const one = await plane.run('health', { app_code: 'worker' });
    expect(one.result).toMatchObject({ type: 'health', status: 'unhealthy', container_state: 'exited' });
    const posted = await plane.when((e): e is Extract<Event, { kind: 'app-status' }> => e.kind === 'app-status' && e.body.app_code === 'worker');
    expect(posted.body).toMatchObject({ status: 'stopped', logs: ['status=unhealthy container_state=exited'] });
  });

  it('remove_app removes one service; with delete_config (the default) v0.2.1 also deletes the compose file and .env', async () => {
    const kept = await plane.run('remove_app', { app_code: 'worker', delete_config: false });
    expect(kept).toMatchObject({ status: 'success', error: null });
    expect(kept.result).toMatchObject({ type: 'remove_app', app_code: 'worker', status: 'removed', errors: null });
    expect((await containers()).map((c) => c.container_name)).not.toContain(`${plane.hash}-worker-1`);
    expect(existsSync(join(projectDir, 'docker-compose.yml'))).toBe(true);
    const services = JSON.parse(readFileSync(join(projectDir, '.stand-in-state.json'), 'utf8')).services;
    expect(Object.keys(services).sort()).toEqual(['db', 'web']);

    const removed = await plane.run('remove_app', { app_code: 'db' });
    expect(removed.status).toBe('success');
    expect(codes(removed)).toEqual(['vault_not_configured']);
    expect(existsSync(join(projectDir, 'docker-compose.yml'))).toBe(false);
    expect(existsSync(join(projectDir, '.env'))).toBe(false);
    expect((await containers()).map((c) => c.container_name).sort()).toEqual([`${plane.hash}-web-1`, 'stacker-agent'].sort());
  });

  it('answers what v0.2.1 refuses as v0.2.1 does', async () => {
    const unknown = await plane.run('restart_service', { app_code: 'web' });
    expect(unknown).toMatchObject({ status: 'failed', error: "Command validation failed: program 'restart_service' is not allowed", executed_by: 'status_panel' });
    const noApp = await plane.run('health', {});
    expect(noApp).toMatchObject({ status: 'failed', error: 'Invalid command parameters: app_code is required' });
    const nullParameters = await plane.run('stacker.deploy_app', null);
    expect(nullParameters.error).toBe('Invalid command parameters: invalid deploy_app payload');
    const missing = await plane.run('health', { app_code: 'nothere' });
    expect(missing).toMatchObject({ status: 'failed', error: null, errors: [{ code: 'container_not_found', message: 'Container `nothere` not found' }] });
  });

  it('refuses a second container of the same name, and docker rm -f stops the agent', async () => {
    const again = await docker('run', '-d', '--name', 'stacker-agent', 'trydirect/status:v0.2.1');
    expect(again.code).toBe(125);
    expect(again.stderr).toMatch(/Conflict\. The container name "\/stacker-agent" is already in use by container "[0-9a-f]{64}"/);

    expect((await docker('ps', '--filter', 'name=stacker-agent', '--format', '{{.Names}} {{.Image}}')).stdout.trim()).toBe('stacker-agent trydirect/status:v0.2.1');
    const open = plane.pollCount;
    const closed = plane.when((e) => e.kind === 'poll-closed' && e.n === open);
    const removed = await docker('rm', '-f', 'stacker-agent');
    expect(removed).toMatchObject({ code: 0, stdout: 'stacker-agent\n' });
    await closed;
    expect(processAlive(agentPid)).toBe(false);
    expect(plane.pollCount).toBe(open);
    expect((await docker('ps', '-a', '--format', '{{.Names}}')).stdout).not.toMatch(/stacker-agent/);
    expect(plane.authFailures).toEqual([]);
  });

  it('wrote the agent token nowhere: not in a record, a log or any output', () => {
    expect(root).not.toBe('');
    for (const file of filesUnder(root)) expect(readFileSync(file, 'utf8'), file).not.toContain(plane.token);
    for (const output of outputs) expect(output).not.toContain(plane.token);
  });
});

describe('runAgentStandIn without COMPOSE_PROJECT_DIR', () => {
  it('writes the compose file where v0.2.1 does: /home/trydirect/<app_code>/, then the folder of the service’s container', async () => {
    const plane = await new FakeControlPlane().start();
    stoppers.push(() => plane.stop());
    const root = mkdtempSync(join(tmpdir(), 'stacker-agent-stand-in-'));
    roots.push(root);
    const lines: string[] = [];
    const agent: AgentStandInHandle = runAgentStandIn({
      env: { DASHBOARD_URL: plane.url, DEPLOYMENT_HASH: plane.hash, AGENT_ID: plane.agentId, AGENT_TOKEN: plane.token, STACKER_INSTALL_ROOT: root },
      log: (line) => lines.push(line),
    });
    stoppers.push(() => agent.stop());

    const web = await plane.run('deploy_app', { app_code: 'web', compose_content: WEB_AND_DB, env_vars: { DB_PASSWORD: 'x' } });
    expect(web.status).toBe('success');
    const file = join(root, 'home/trydirect/web/docker-compose.yml');
    expect(parseYaml(readFileSync(file, 'utf8'))).toEqual(parseYaml(WEB_AND_DB));
    // db was started with web, so its container's compose labels lead to the same folder.
    const db = await plane.run('deploy_app', { app_code: 'db', compose_content: WEB_AND_DB, env_vars: { DB_PASSWORD: 'x' } });
    expect(db.status).toBe('success');
    expect(readdirSync(join(root, 'home/trydirect'))).toEqual(['web']);

    await agent.stop();
    expect(lines.join('\n')).toMatch(/COMPOSE_PROJECT_DIR is not set/);
    expect(lines.join('\n')).not.toContain(plane.token);
    expect(plane.authFailures).toEqual([]);
  });
});
