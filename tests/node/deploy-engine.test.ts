// The built-in deploy engine end to end, as a user without a server tries it: one `npm start` (the
// embedded database, DEPLOY_ENGINE unset so builtin) and own servers made by try-server: the real
// install script, fetched by real curl, run with a temporary root and the docker stand-in, whose
// `docker run` of the agent image starts the agent stand-in. Everything goes through the HTTP API and
// is awaited on the deployment's event log (?after=N&wait=S), never slept for.
//   Enrollment (once, reused, expired, replaced on the same server), deploy to completed with the
//   addresses and the files on the server, redeploy, two at once, a failing deploy_app and a failing
//   health both rolled back, rollback to a chosen revision, remove, an agent that never comes online,
//   a restart of npm start mid-deploy, and no agent token or secret in any output or event.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signInAtDevProvider } from '../../scripts/dev-openid-provider.ts';
import { readLocalRun } from '../../scripts/local-run.ts';
import { runAgentStandIn, type AgentStandInHandle } from '../../scripts/stand-ins/agent.ts';
import { processAlive, readRegistry, standInFolder } from '../../scripts/stand-ins/docker.ts';
import { freePort, startLocalService, withClient, type RunningStart } from './helpers.ts';
import { runOnServer, runningAgents, startOwnServer, tryServer, type InstallRun, type OwnServer } from './own-server.ts';

const SERVER_IP = '203.0.113.10';
// A multiple of the engine's 5 s between health checks: the last check gets ~5 s to answer before the deadline.
const HEALTH_TIMEOUT_SECONDS = 10;
/** The secret the project's compose carries: it must reach the server's .env and nowhere else. */
const DB_PASSWORD = `pw-${randomBytes(12).toString('hex')}`;

const dataDir = mkdtempSync(join(tmpdir(), 'stacker-engine-'));
let settings: Record<string, string> = {};
let service: RunningStart | undefined;
let base = '';
let token = '';
const servers: OwnServer[] = [];
const inProcessAgents: AgentStandInHandle[] = [];
/** Roots of stand-in servers, including those of refused installs (removed at the end). */
const roots = new Set<string>();
/** Everything an install command printed: searched for secrets at the end. */
const outputs: string[] = [];

/** npm start while it is starting: afterAll stops it even when a test timed out meanwhile. */
let starting: Promise<RunningStart> | undefined;

async function startService() {
  starting = startLocalService(dataDir, settings);
  service = await starting;
  starting = undefined;
  base = `http://127.0.0.1:${service.port}`;
  token = await signInAtDevProvider(readLocalRun(dataDir)!.services.OAUTH_ISSUER!, { name: 'engine-owner', role: 'user' });
}

beforeAll(async () => {
  settings = { PORT: String(await freePort()), DEPLOY_HEALTH_TIMEOUT_SECONDS: String(HEALTH_TIMEOUT_SECONDS), DOCKERHUB_CHECK: 'off' };
  await startService();
}, 150_000);

afterAll(async () => {
  for (const agent of inProcessAgents) await agent.stop();
  for (const server of servers) await server.stop();
  // Any agent stand-in still running under a root (a test that failed half-way).
  for (const root of roots) {
    for (const record of readRegistry(root)) if (record.pid !== null && processAlive(record.pid)) process.kill(record.pid, 'SIGKILL');
  }
  await service?.stop();
  await starting?.then((late) => late.stop()).catch(() => undefined);
  for (const root of roots) rmSync(root, { recursive: true, force: true, maxRetries: 5 });
  rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 });
}, 60_000);

interface Answer<T = any> {
  status: number;
  body: T;
}

async function api<T = any>(path: string, init: { method?: string; body?: unknown } = {}): Promise<Answer<T>> {
  const response = await fetch(`${base}${path}`, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/** SQL on npm start's embedded database (through the socket it serves, as the console does). */
function sql(text: string, values: unknown[] = []) {
  const url = (JSON.parse(readFileSync(join(dataDir, 'embedded-database.json'), 'utf8')) as { url: string }).url;
  return withClient(url, (client) => client.query(text, values));
}

const service_ = (code: string, type: string, image: string, ports: Array<{ host_port: string; container_port: string }>, environment: Array<{ key: string; value: string }>) => ({
  _id: code, name: code, code, type, dockerhub_name: image, restart: 'always', custom: true, shared_ports: ports, environment, volumes: [], network: [],
});

/** A web server on 8080 and a database whose password is a secret; `web` is the web server's image. */
function projectForm(name: string, web = 'nginx:1.27') {
  return {
    custom: {
      custom_stack_code: name,
      project_name: name,
      web: [service_('web', 'web', web, [{ host_port: '8080', container_port: '80' }], [])],
      service: [service_('database', 'service', 'postgres:16', [], [{ key: 'POSTGRES_PASSWORD', value: DB_PASSWORD }, { key: 'POSTGRES_DB', value: 'shop' }])],
      feature: [],
      networks: [],
    },
  };
}

interface EventView {
  seq: number;
  at: string;
  kind: string;
  status: string | null;
  message: string | null;
  subject: string | null;
}

/** A deployment followed through its event log: each `until` reads on from where the last one matched. */
class Deployment {
  readonly events: EventView[] = [];
  private seen = 0;
  private cursor = 0;

  readonly projectId: number;
  readonly id: number;
  readonly hash: string;
  readonly installCommand: string;

  constructor(projectId: number, id: number, hash: string, installCommand: string) {
    this.projectId = projectId;
    this.id = id;
    this.hash = hash;
    this.installCommand = installCommand;
  }

  static async start(name: string, web?: string): Promise<Deployment> {
    const project = await api<{ item: { id: number } }>('/project', { method: 'POST', body: projectForm(name, web) });
    expect(project.status, JSON.stringify(project.body)).toBe(201);
    const started = await api(`/project/${project.body.item.id}/deploy`, { method: 'POST', body: { cloud: { provider: 'own' }, server: { srv_ip: SERVER_IP }, stack: {} } });
    expect(started.status, JSON.stringify(started.body)).toBe(202);
    const item = started.body.item as { deployment_id: number; deployment_hash: string; install_command: string };
    return new Deployment(project.body.item.id, item.deployment_id, item.deployment_hash, item.install_command);
  }

  path(suffix = '') {
    return `/project/${this.projectId}/deployments/${this.id}${suffix}`;
  }

  detail() {
    return api(this.path()).then((answer) => {
      expect(answer.status).toBe(200);
      return answer.body.item;
    });
  }

  /** The first event after the last match that passes `test`, waiting for it on the log (?wait=). */
  async until(test: (event: EventView) => boolean, what: string, timeoutMs = 45_000): Promise<EventView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.events.findIndex((event, position) => position >= this.seen && test(event));
      if (index !== -1) {
        this.seen = index + 1;
        return this.events[index]!;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms; ${this.describe()}`);
      const answer = await api(`${this.path('/events')}?after=${this.cursor}&wait=${Math.max(1, Math.min(25, Math.floor(left / 1000)))}`);
      expect(answer.status).toBe(200);
      this.events.push(...(answer.body.list as EventView[]));
      this.cursor = answer.body.meta.last_seq;
    }
  }

  /** The log read so far, one line per event, and the agent stand-ins' logs (for failure messages). */
  describe(): string {
    const events = this.events.map((e) => `#${e.seq} ${e.kind} ${e.status} ${e.subject ?? ''} ${e.message}`).join('\n');
    return `deployment ${this.id}'s log:\n${events}\n${agentLogs().map((log) => `agent stand-in log:\n${log.slice(-4000)}`).join('\n')}`;
  }

  /** The end of the running operation: completed, failed or removed. */
  ended(timeoutMs?: number): Promise<EventView> {
    return this.until((event) => event.kind === 'progress' && ['completed', 'failed', 'removed'].includes(event.status ?? ''), 'end of the operation', timeoutMs);
  }

  /** The whole log as it is now (every page). */
  async wholeLog(): Promise<EventView[]> {
    const all: EventView[] = [];
    for (let after = 0; ; ) {
      const answer = await api(`${this.path('/events')}?after=${after}`);
      all.push(...(answer.body.list as EventView[]));
      if (answer.body.meta.last_seq >= answer.body.meta.latest_seq) return all;
      after = answer.body.meta.last_seq;
    }
  }
}

/** Checks `test` every 200 ms until it holds (for what has no event to wait on). */
async function condition(test: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms`);
    await new Promise((done) => setTimeout(done, 200));
  }
}

const secretOf = (installCommand: string) => /\/install\/([A-Za-z0-9_-]+)'/.exec(installCommand)![1]!;

async function ownServer(installCommand: string): Promise<OwnServer> {
  const server = await startOwnServer(installCommand);
  servers.push(server);
  roots.add(server.root);
  outputs.push(server.output);
  return server;
}

async function refusedInstall(installCommand: string): Promise<InstallRun> {
  const run = await tryServer(installCommand);
  if (run.root) roots.add(run.root);
  outputs.push(run.output);
  return run;
}

/** The logs of the agent stand-ins the docker stand-in started under every root (those removed since too). */
const agentLogs = () =>
  [...roots].flatMap((root) => {
    const folder = standInFolder(root);
    return existsSync(folder) ? readdirSync(folder).filter((name) => name.endsWith('.log')).map((name) => readFileSync(join(folder, name), 'utf8')) : [];
  });

const agentTokenOf = (root: string) => /^AGENT_TOKEN=(.+)$/m.exec(readFileSync(join(root, 'etc/stacker/agent.env'), 'utf8'))![1]!;

// Each test waits on a real service on 2 busy cores: a minute each, three for the one that restarts it.
describe('the built-in engine through npm start and try-server', { timeout: 60_000 }, () => {
  let main: Deployment;
  let server: OwnServer;
  const agentTokens: string[] = [];
  const deployments: Deployment[] = [];

  it('npm start says the built-in engine deploys and how to try a server, and starts no install-service stand-in', () => {
    const said = service!.output();
    expect(said).toContain('deploys go to the built-in engine (DEPLOY_ENGINE=builtin)');
    expect(said).toContain("npm run -s try-server -- '<install command>'");
    expect(said).not.toMatch(/install-service stand-in/);
  });

  it('deploys to an own server: the install command enrols it, the agent applies the stack, completed with its addresses', async () => {
    main = await Deployment.start('engine-main');
    deployments.push(main);
    expect(main.installCommand).toMatch(new RegExp(`^curl -fsSL '${base.replace(/[.]/g, '\\.')}/install/[A-Za-z0-9_-]{32,}' \\| sh$`));
    const waiting = await main.detail();
    expect(waiting).toMatchObject({ status: 'pending', install_command: main.installCommand, server_address: SERVER_IP, addresses: [] });

    server = await ownServer(main.installCommand);
    expect(server.output).toMatch(/^stacker: enrolled: the agent's credentials are in \S+\/etc\/stacker\/agent\.env \(readable by root only\)$/m);
    expect(server.output).toMatch(/^stacker: starting the agent: docker run trydirect\/status:v0\.2\.1 as stacker-agent$/m);
    agentTokens.push(agentTokenOf(server.root));

    const end = await main.ended();
    expect(end, main.describe()).toMatchObject({ status: 'completed', message: `Revision 1 is running at http://${SERVER_IP}:8080` });
    const queued = main.events.filter((event) => event.kind === 'command' && event.status === 'queued').map((event) => event.message);
    expect(queued).toEqual(['deploy_app: queued by the engine', 'deploy_app: queued by the engine', 'health: queued by the engine']);
    expect(await main.detail()).toMatchObject({
      status: 'completed',
      install_command: null,
      current_revision: 1,
      addresses: [{ service: 'web', url: `http://${SERVER_IP}:8080` }],
      revisions: [{ revision: 1, status: 'running', current: true }],
    });

    // On the server: the compose with the secret as a variable, its value only in the 0600 .env beside it.
    const project = join(server.root, 'home/trydirect', main.hash);
    const compose = readFileSync(join(project, 'docker-compose.yml'), 'utf8');
    expect(compose).toContain('image: nginx:1.27');
    expect(compose).toContain('POSTGRES_PASSWORD: ${DATABASE_POSTGRES_PASSWORD}');
    expect(compose).not.toContain(DB_PASSWORD);
    expect(readFileSync(join(project, '.env'), 'utf8')).toContain(`DATABASE_POSTGRES_PASSWORD=${DB_PASSWORD}`);
    expect(statSync(join(project, '.env')).mode & 0o777).toBe(0o600);
    expect(statSync(join(server.root, 'etc/stacker/agent.env')).mode & 0o777).toBe(0o600);
  });

  it('the same install command again is refused: already used, non-zero exit, no agent started', async () => {
    const again = await refusedInstall(main.installCommand);
    expect(again.code).not.toBe(0);
    expect(again.output).toMatch(/^stacker: error: enrollment refused \(HTTP 410\): This install command was already used \(at [^)]+\): open the deployment page for a new install command$/m);
    expect(runningAgents(again.root)).toEqual([]);
  });

  it('a new install command run on the same server replaces its agent container, and the new agent answers', async () => {
    const issued = await api(main.path('/install-command'), { method: 'POST' });
    expect(issued.status).toBe(201);
    const command = issued.body.item.install_command as string;
    expect(command).not.toBe(main.installCommand);
    const [before] = runningAgents(server.root);
    expect(before).toBeDefined();

    const rerun = await runOnServer(server.root, command);
    const replacedAt = Date.now();
    outputs.push(rerun.output);
    expect(rerun.code, rerun.output).toBe(0);
    expect(rerun.output).toContain('stacker: replacing the agent container stacker-agent that is already here');
    expect(processAlive(before!.pid)).toBe(false);
    const after = runningAgents(server.root);
    expect(after).toHaveLength(1);
    expect(after[0]!.pid).not.toBe(before!.pid);
    agentTokens.push(agentTokenOf(server.root));
    expect(agentTokens[1]).not.toBe(agentTokens[0]);
    await main.until((event) => event.kind === 'agent' && event.status === 'reissued', 'agent reissued');
    // The killed agent's last long poll may still be held by the Worker (wrangler dev does not pass the
    // client's disconnect on), and would take a command sent now; the new agent's first poll ends it
    // (one wait per agent). That poll writes the agent's first heartbeat with the new token.
    await condition(async () => {
      const seen = (await api(`/api/v1/deployments/${main.hash}/agent`)).body.item?.agent?.last_heartbeat as string | null;
      return seen !== null && Date.parse(seen) >= replacedAt;
    }, "the new agent's first poll");

    const sent = await api('/api/v1/commands', { method: 'POST', body: { deployment_hash: main.hash, command_type: 'health', parameters: { app_code: 'web' } } });
    expect(sent.status, JSON.stringify(sent.body)).toBe(201);
    const commandId = sent.body.item.command_id as string;
    await main.until((event) => event.kind === 'command' && event.subject === commandId && event.status === 'completed', `${commandId} completed`);
    expect((await api(`/api/v1/commands/${main.hash}/${commandId}`)).body.item).toMatchObject({ status: 'completed', result: { type: 'health', app_code: 'web', status: 'ok' } });
  });

  it('redeploys as a new revision; two redeploys at once: one 202, one 409', async () => {
    const redeploy = await api(main.path('/redeploy'), { method: 'POST' });
    expect(redeploy.status).toBe(202);
    expect(redeploy.body.item.revision).toBe(2);
    expect(await main.ended(), main.describe()).toMatchObject({ status: 'completed', message: `Revision 2 is running at http://${SERVER_IP}:8080` });

    const both = await Promise.all([api(main.path('/redeploy'), { method: 'POST' }), api(main.path('/redeploy'), { method: 'POST' })]);
    expect(both.map((answer) => answer.status).sort()).toEqual([202, 409]);
    expect(both.find((answer) => answer.status === 409)!.body.message).toMatch(/is running on this deployment: wait for it to end, or cancel it/);
    expect(both.find((answer) => answer.status === 202)!.body.item.revision).toBe(3);
    expect(await main.ended(), main.describe()).toMatchObject({ status: 'completed', message: `Revision 3 is running at http://${SERVER_IP}:8080` });
    expect((await main.detail()).revisions.map((entry: { revision: number }) => entry.revision)).toEqual([3, 2, 1]);
  });

  it('a redeploy whose deploy_app fails (the image cannot be pulled) ends failed, rolled back to the last good revision', async () => {
    expect((await api(`/project/${main.projectId}`, { method: 'PUT', body: projectForm('engine-main', 'stand-in/pull-fails:1.0') })).status).toBe(200);
    const redeploy = await api(main.path('/redeploy'), { method: 'POST' });
    expect(redeploy.body.item?.revision, JSON.stringify(redeploy.body)).toBe(4);
    const end = await main.ended();
    expect(end.status, main.describe()).toBe('failed');
    expect(end.message).toMatch(/^deploy_app of revision 4 failed: web: Docker compose up failed: .*pull access denied for stand-in\/pull-fails.*\. Rolled back to revision 3, which is running again\.$/s);
    const detail = await main.detail();
    expect(detail).toMatchObject({ status: 'failed', current_revision: 3 });
    expect(detail.revisions[0]).toMatchObject({ revision: 4, status: 'failed', current: false });
    expect(readFileSync(join(server.root, 'home/trydirect', main.hash, 'docker-compose.yml'), 'utf8')).toContain('image: nginx:1.27');
  });

  it(`a redeploy whose services do not become healthy within DEPLOY_HEALTH_TIMEOUT_SECONDS (${HEALTH_TIMEOUT_SECONDS}) ends failed, rolled back`, async () => {
    expect((await api(`/project/${main.projectId}`, { method: 'PUT', body: projectForm('engine-main', 'stand-in/unhealthy:1.0') })).status).toBe(200);
    const redeploy = await api(main.path('/redeploy'), { method: 'POST' });
    expect(redeploy.body.item?.revision, JSON.stringify(redeploy.body)).toBe(5);
    const end = await main.ended();
    expect(end.status, main.describe()).toBe('failed');
    expect(end.message).toMatch(new RegExp(`^Revision 5 did not become healthy within ${HEALTH_TIMEOUT_SECONDS} s \\(not running: .*web.*\\)\\. Rolled back to revision 3, which is running again\\.$`));
    expect(await main.detail()).toMatchObject({ status: 'failed', current_revision: 3 });
    // The stand-in's record of the project's containers: web is the good revision's again, and runs.
    const containers = JSON.parse(readFileSync(join(server.root, 'home/trydirect', main.hash, '.stand-in-state.json'), 'utf8')).services as Record<string, { image: string; state: string }>;
    expect(containers.web).toMatchObject({ image: 'nginx:1.27', state: 'running' });
  });

  it('rolls back to a chosen revision, then removes the stack: the deployment ends removed', async () => {
    const rollback = await api(main.path('/rollback'), { method: 'POST', body: { revision: 1 } });
    expect(rollback.status).toBe(202);
    expect(await main.ended(), main.describe()).toMatchObject({ status: 'completed', message: `Revision 1 is running at http://${SERVER_IP}:8080` });
    const detail = await main.detail();
    expect(detail.current_revision).toBe(1);
    expect(detail.revisions.find((entry: { revision: number }) => entry.revision === 1)).toMatchObject({ status: 'running', current: true });

    const removed = await api(main.path(), { method: 'DELETE' });
    expect(removed.status).toBe(202);
    const end = await main.ended();
    expect(end, main.describe()).toMatchObject({ status: 'removed', message: 'Removed: web, database stopped and deleted on the server' });
    expect(await main.detail()).toMatchObject({ status: 'removed', addresses: [], current_revision: null });
    // No container of the project is left (the stand-in drops its record with the last one); the compose file stays.
    expect(existsSync(join(server.root, 'home/trydirect', main.hash, '.stand-in-state.json'))).toBe(false);
    expect(existsSync(join(server.root, 'home/trydirect', main.hash, 'docker-compose.yml'))).toBe(true);
  });

  it('an expired install command says so; an agent that never comes online fails the deployment at its deadline', async () => {
    const late = await Deployment.start('engine-late');
    deployments.push(late);
    await sql(`update agent_enrollment set expires_at = now() - interval '1 minute' where deployment_id = $1`, [late.id]);
    const expired = await refusedInstall(late.installCommand);
    expect(expired.code).not.toBe(0);
    expect(expired.output).toMatch(/^stacker: error: enrollment refused \(HTTP 410\): This install command expired at \S+: open the deployment page for a new install command$/m);
    expect((await late.detail()).install_command).toBeNull();

    // The agent's deadline (DEPLOY_AGENT_TIMEOUT_SECONDS, 900 s here) moved to the past, as if it had
    // passed and the object's wake-up was lost: the cron (run now instead of in up to a minute) wakes the run.
    await sql(`update deployment_operation set step_deadline_at = now() - interval '1 second', wake_at = now() - interval '1 minute' where deployment_id = $1 and status = 'running'`, [late.id]);
    const cron = await fetch(`${base}${service!.scheduledPath}?cron=${encodeURIComponent('* * * * *')}`);
    await cron.body?.cancel();
    expect(cron.status).toBe(200);
    const end = await late.ended(30_000);
    expect(end, late.describe()).toMatchObject({
      status: 'failed',
      message: 'The agent did not come online within 15 min: run the install command on the server (the deployment page offers a new one)',
    });
    expect(await late.detail()).toMatchObject({ status: 'failed', current_revision: null });
  });

  it('a restart of npm start mid-deploy loses nothing: a queued deploy_app is taken afterwards, and a health check waiting for its retry is woken by its alarm', async () => {
    // One deployment enrolled (the install script's exchange, its POST) with no agent yet: the engine queues deploy_app.
    const queued = await Deployment.start('engine-restart');
    deployments.push(queued);
    const enrolled = await fetch(`${base}/install/${secretOf(queued.installCommand)}/enroll`, { method: 'POST' });
    expect(enrolled.status).toBe(200);
    const envFile = await enrolled.text();
    await queued.until((event) => event.kind === 'command' && event.status === 'queued' && event.message === 'deploy_app: queued by the engine', 'deploy_app queued');
    // Another whose web service exits: after the first health check the run waits for its retry (the object's alarm, 5 s).
    const retrying = await Deployment.start('engine-retry', 'stand-in/unhealthy:1.0');
    deployments.push(retrying);
    await ownServer(retrying.installCommand).then((server) => agentTokens.push(agentTokenOf(server.root)));
    await retrying.until((event) => event.kind === 'progress' && /^Waiting for the services \(not running: .*web/.test(event.message ?? ''), 'health retry');

    expect(await service!.stop()).toBe(0);
    service = undefined;
    const restartingAt = Date.now();
    await startService();
    const restartedAt = Date.now();

    // The retry's alarm was kept (npm start persists the objects' storage in its data folder): the run
    // goes on at once (its health deadline passed meanwhile), not when the cron's sweep would find it
    // (a wake-up 30 s overdue, at the cron's first run a minute after the start).
    const failed = await retrying.ended(30_000);
    expect(failed.status, retrying.describe()).toBe('failed');
    expect(failed.message).toMatch(new RegExp(`^(Revision 1|The stack) did not become healthy within ${HEALTH_TIMEOUT_SECONDS} s`));
    // Ended by the restarted service (the database is closed while npm start is down), soon after it started.
    expect(Date.parse(failed.at), retrying.describe()).toBeGreaterThanOrEqual(restartingAt);
    expect(Date.now() - restartedAt).toBeLessThan(25_000);

    // The first one's agent starts now, as the install script would have started it.
    const root = mkdtempSync(join(tmpdir(), 'stacker-engine-restart-'));
    roots.add(root);
    const env = Object.fromEntries(envFile.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    agentTokens.push(env.AGENT_TOKEN!);
    const lines: string[] = [];
    inProcessAgents.push(
      runAgentStandIn({ env: { ...env, COMPOSE_PROJECT_DIR: `/home/trydirect/${queued.hash}`, STACKER_INSTALL_ROOT: root }, log: (line) => lines.push(line) }),
    );
    const end = await queued.ended();
    outputs.push(lines.join('\n'));
    expect(end, `${queued.describe()}\nthe agent's log:\n${lines.join('\n')}`).toMatchObject({ status: 'completed', message: `Revision 1 is running at http://${SERVER_IP}:8080` });
    expect(existsSync(join(root, 'home/trydirect', queued.hash, 'docker-compose.yml'))).toBe(true);
    // Each step's command once, restart or not.
    const { rows } = await sql(
      `select deployment_hash, idempotency_key, count(*)::int as n from commands where deployment_hash = any($1) group by 1, 2 having count(*) > 1`,
      [[queued.hash, retrying.hash]],
    );
    expect(rows).toEqual([]);
  }, 180_000);

  it('no install output, agent log or event holds an agent token, the secret or an install command’s secret', async () => {
    expect(agentTokens).toHaveLength(4);
    const secrets = [...agentTokens, DB_PASSWORD, ...deployments.map((deployment) => secretOf(deployment.installCommand))];
    const texts = [...outputs, ...agentLogs()];
    for (const deployment of deployments) texts.push(JSON.stringify(await deployment.wholeLog()));
    expect(texts.length).toBeGreaterThan(deployments.length);
    for (const text of texts) for (const secret of secrets) expect(text.includes(secret), `a secret in:\n${text.slice(0, 2000)}`).toBe(false);
  });
});
