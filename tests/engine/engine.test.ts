// The built-in deploy engine inside workerd (DEPLOY_ENGINE=builtin on every request of the file): an own server
// enrolled by its install command, the real agent's commands driven by the deployment's Durable
// Object, revisions, rollback of a broken update, removal, and the deadlines.
import { env } from 'cloudflare:test';
import { and, eq, sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { agentEnrollment, commands, deploymentOperation } from '../../db/schema.ts';
import { wakeEngine } from '../../functions/services/doorbell.ts';
import { AgentSimulator, type WaitAnswer } from '../helpers/agent-simulator.ts';
import { api, bearerFor, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor, requestAndSettle, type ProjectRef } from '../helpers/deploy.ts';
import { projectForms } from '../helpers/fixtures.ts';
import { settingsForFile } from '../helpers/api.ts';

// Deploys go to the built-in engine (the rest of the workers project deploys through the install service).
settingsForFile({ DEPLOY_ENGINE: 'builtin' });

const SERVER_IP = '203.0.113.10';
const ownDeploy = { cloud: { provider: 'own' }, server: { srv_ip: SERVER_IP, ssh_user: 'root', ssh_port: 22 }, stack: { vars: [] } };

interface StartedBuiltin {
  item: { deployment_id: number; deployment_hash: string; status: string; install_command: string };
}

interface Detail {
  status: string;
  message: string | null;
  install_command: string | null;
  addresses: Array<{ service: string; url: string }>;
  current_revision: number | null;
  revisions: Array<{ revision: number; status: string; current: boolean }>;
}

interface EventView {
  seq: number;
  kind: string;
  status: string | null;
  message: string | null;
  subject: string | null;
}

class OwnServer {
  readonly project: ProjectRef;
  readonly deploymentId: number;
  readonly hash: string;
  readonly installCommand: string;
  agent?: AgentSimulator;
  cursor = 0;

  constructor(project: ProjectRef, started: StartedBuiltin['item']) {
    this.project = project;
    this.deploymentId = started.deployment_id;
    this.hash = started.deployment_hash;
    this.installCommand = started.install_command;
  }

  static async deploy(form = projectForms[1]!.body): Promise<OwnServer> {
    const project = await createProjectFor(uniqueId('engine'), form);
    const response = await requestAndSettle(`/project/${project.id}/deploy`, jsonRequest('POST', ownDeploy, bearerFor('group_user', project.userId)));
    expect(response.status).toBe(202);
    return new OwnServer(project, ((await response.json()) as StartedBuiltin).item);
  }

  get secret(): string {
    return /\/install\/([A-Za-z0-9_-]+)'/.exec(this.installCommand)![1]!;
  }

  get owner() {
    return bearerFor('group_user', this.project.userId);
  }

  path(suffix = '') {
    return `/project/${this.project.id}/deployments/${this.deploymentId}${suffix}`;
  }

  /** `settle`: also wait for the work the request left running after its answer (waitUntil). */
  async enroll(settle = true): Promise<Response> {
    return (settle ? requestAndSettle : api)(`/install/${this.secret}/enroll`, { method: 'POST' });
  }

  /** Runs the install command's exchange and starts the agent with the env file it answers. */
  async enrollAgent(settle = true): Promise<AgentSimulator> {
    const response = await this.enroll(settle);
    expect(response.status).toBe(200);
    const file = Object.fromEntries((await response.text()).trim().split('\n').map((line) => line.split(/=(.*)/s).slice(0, 2) as [string, string]));
    expect(file.DEPLOYMENT_HASH).toBe(this.hash);
    this.agent = new AgentSimulator({ agentId: file.AGENT_ID!, token: file.AGENT_TOKEN!, deploymentHash: this.hash });
    return this.agent;
  }

  async detail(): Promise<Detail> {
    const response = await api(this.path(), { headers: this.owner });
    expect(response.status).toBe(200);
    return ((await response.json()) as { item: Detail }).item;
  }

  /** The agent's next command (its long-poll answers at once when one is queued, or when one is rung in). */
  async nextCommand(): Promise<NonNullable<WaitAnswer['item']>> {
    for (let polls = 0; polls < 5; polls++) {
      const { status, body } = await this.agent!.wait(10);
      if (status === 200 && body.item && 'command_id' in body.item) return body.item as NonNullable<WaitAnswer['item']>;
    }
    throw new Error('no command came');
  }

  /** Reads the event log until an event satisfies `until` (held on the deployment's object between events). */
  async eventsUntil(until: (event: EventView) => boolean): Promise<EventView[]> {
    const seen: EventView[] = [];
    for (let reads = 0; reads < 20; reads++) {
      const response = await api(`${this.path('/events')}?after=${this.cursor}&wait=10`, { headers: this.owner });
      const page = ((await response.json()) as { list: EventView[] }).list;
      for (const event of page) {
        seen.push(event);
        this.cursor = event.seq;
        if (until(event)) return seen;
      }
    }
    throw new Error(`the awaited event never came; saw ${JSON.stringify(seen.map((event) => `${event.kind}/${event.status}: ${event.message}`))}`);
  }

  async wake(): Promise<void> {
    await wakeEngine(env.DEPLOYMENT_DOORBELL, this.hash, this.deploymentId);
  }

  /** The running operation's step deadline, moved to now: the next look at it finds it passed. */
  async expireStep(): Promise<void> {
    await withDatabase((db) =>
      db
        .update(deploymentOperation)
        .set({ stepDeadlineAt: sql`now() - interval '1 second'`, stepStartedAt: sql`now() - interval '1 day'` })
        .where(and(eq(deploymentOperation.deploymentId, this.deploymentId), eq(deploymentOperation.status, 'running'))),
    );
  }

  async post(suffix: string, body?: unknown, method = 'POST'): Promise<Response> {
    return requestAndSettle(this.path(suffix), body === undefined ? { method, headers: this.owner } : jsonRequest(method, body, this.owner));
  }
}

/** The engine's last event of an operation: its progress event with the deployment's new status. */
const ended = (status: string) => (event: EventView) => event.kind === 'progress' && event.status === status;

const healthy = (hash: string, services: string[], unhealthy: string[] = []) => ({
  type: 'all_health',
  status: unhealthy.length > 0 ? 'degraded' : 'ok',
  containers: [
    { app_code: 'stacker-agent', container_name: 'stacker-agent', container_state: 'running', status: 'ok' },
    ...services.map((service) => {
      const name = `${hash}-${service}-1`;
      const bad = unhealthy.includes(service);
      return { app_code: name, container_name: name, container_state: bad ? 'exited' : 'running', status: bad ? 'unhealthy' : 'ok' };
    }),
  ],
});

/** The agent applies what it is sent and reports every service running. */
async function applyAndReportHealthy(server: OwnServer): Promise<void> {
  const apply = await server.nextCommand();
  expect(apply.type).toBe('deploy_app');
  expect((await server.agent!.report(apply.command_id, { result: { status: 'ok' } })).status).toBe(200);
  const health = await server.nextCommand();
  expect(health.type).toBe('health');
  expect(health.parameters).toMatchObject({ app_code: 'all' });
  expect((await server.agent!.report(health.command_id, { result: healthy(server.hash, ['postgrest']) })).status).toBe(200);
}

async function commandsOf(hash: string, type: string) {
  return withDatabase((db) => db.select().from(commands).where(and(eq(commands.deploymentHash, hash), eq(commands.type, type))));
}

describe.concurrent('the built-in engine on an own server', () => {
  it('enrols the server once, applies the compose with its secrets as env_vars, checks health, ends completed with the addresses', async () => {
    const server = await OwnServer.deploy();
    expect(server.installCommand).toMatch(/^curl -fsSL 'http:\/\/stacker\.test\/install\/[A-Za-z0-9_-]{32,}' \| sh$/);
    const status = await api(`/project/deploy/status?deployment_id=${server.deploymentId}`, { headers: server.owner });
    expect(((await status.json()) as { item: { install_command?: string } }).item.install_command).toBe(server.installCommand);
    const before = await server.detail();
    expect(before.status).toBe('pending');
    expect(before.install_command).toBe(server.installCommand);

    const script = await api(`/install/${server.secret}`);
    expect(script.status).toBe(200);
    const text = await script.text();
    expect(text.startsWith('#!/bin/sh')).toBe(true);
    expect(text).toContain(`/install/${server.secret}/enroll`);
    expect(text).toContain("AGENT_IMAGE='trydirect/status:v0.2.1'");

    // Its hash alone registers nothing: the install command is the way in.
    const byHash = await api('/api/v1/agent/register', jsonRequest('POST', { deployment_hash: server.hash, agent_version: '0.2.1', capabilities: ['docker'], system_info: {} }));
    expect(byHash.status).toBe(403);

    const agent = await server.enrollAgent();
    const again = await server.enroll();
    expect(again.status).toBe(410);
    expect(((await again.json()) as { message: string }).message).toMatch(/already used .*new install command/);
    expect((await server.detail()).install_command).toBeNull();

    const apply = await server.nextCommand();
    expect(apply.type).toBe('deploy_app');
    const parameters = apply.parameters as { compose_content: string; env_vars: Record<string, string>; app_code: string };
    expect(parameters.app_code).toBe('postgrest');
    expect(parameters.env_vars).toEqual({ POSTGREST_PGPASSWORD_: 'password' });
    expect(parameters.compose_content).toContain("'PGPASSWORD ': ${POSTGREST_PGPASSWORD_}");
    expect(parameters.compose_content).not.toMatch(/PGPASSWORD ': password/);
    await agent.report(apply.command_id, { result: { status: 'ok' } });
    // Its owner reads the command with the secret's name, not its value.
    const asOwner = await api(`/api/v1/commands/${server.hash}/${apply.command_id}`, { headers: server.owner });
    expect(((await asOwner.json()) as { item: { parameters: { env_vars: unknown } } }).item.parameters.env_vars).toEqual({ POSTGREST_PGPASSWORD_: '********' });

    const health = await server.nextCommand();
    expect(health.type).toBe('health');
    await agent.report(health.command_id, { result: healthy(server.hash, ['postgrest']) });
    const events = await server.eventsUntil(ended('completed'));
    expect(events.at(-1)!.message).toBe(`Revision 1 is running at http://${SERVER_IP}:3000`);
    expect(JSON.stringify(events)).not.toContain('password');

    // v0.2.1 posts an app named "all" with status "error" after a health check of every container: not kept.
    expect((await agent.appStatus('all', 'error')).status).toBe(200);
    const overview = await api(`/api/v1/deployments/${server.hash}/agent`, { headers: server.owner });
    expect(((await overview.json()) as { item: { apps: unknown[] } }).item.apps).toEqual([]);

    const after = await server.detail();
    expect(after).toMatchObject({ status: 'completed', current_revision: 1, addresses: [{ service: 'postgrest', url: `http://${SERVER_IP}:3000` }] });
    expect(after.revisions).toMatchObject([{ revision: 1, status: 'running', current: true }]);
  });

  it('goes on after a deploy_app the agent reports as success with warnings (v0.2.1: a pull that failed while the image was there)', async () => {
    const server = await OwnServer.deploy();
    const agent = await server.enrollAgent();
    const apply = await server.nextCommand();
    await agent.report(apply.command_id, { status: 'success', result: { status: 'ok' }, errors: [{ code: 'pull_warning', message: 'docker compose pull failed: toomanyrequests' }] });
    const health = await server.nextCommand();
    expect(health.type).toBe('health');
    await agent.report(health.command_id, { result: healthy(server.hash, ['postgrest']) });
    await server.eventsUntil(ended('completed'));
  });

  it('queues each step’s command once, however often the step is run', async () => {
    const server = await OwnServer.deploy();
    await server.enrollAgent();
    await Promise.all([server.wake(), server.wake(), server.wake()]);
    await server.wake();
    expect(await commandsOf(server.hash, 'deploy_app')).toHaveLength(1);
  });

  it('refuses a used, a replaced and an expired install command, each saying so, and offers a new one', async () => {
    const server = await OwnServer.deploy();
    const renewed = await server.post('/install-command');
    expect(renewed.status).toBe(201);
    const replaced = await server.enroll();
    expect(replaced.status).toBe(410);
    expect(((await replaced.json()) as { message: string }).message).toMatch(/replaced by a newer one/);

    const fresh = ((await renewed.json()) as { item: { install_command: string } }).item.install_command;
    const secret = /\/install\/([A-Za-z0-9_-]+)'/.exec(fresh)![1]!;
    await withDatabase((db) => db.update(agentEnrollment).set({ expiresAt: sql`now() - interval '1 minute'` }).where(eq(agentEnrollment.deploymentId, server.deploymentId)));
    const late = await requestAndSettle(`/install/${secret}/enroll`, { method: 'POST' });
    expect(late.status).toBe(410);
    expect(((await late.json()) as { message: string }).message).toMatch(/expired at/);
    expect((await requestAndSettle(`/install/${'x'.repeat(43)}/enroll`, { method: 'POST' })).status).toBe(404);
  });

  it('ends failed with what to do when the agent never comes online', async () => {
    const server = await OwnServer.deploy();
    await server.expireStep();
    await server.wake();
    const events = await server.eventsUntil(ended('failed'));
    expect(events.at(-1)!.message).toMatch(/agent did not come online within 15 min: run the install command/);
  });

  it('redeploys as a new revision; a second redeploy while one runs is 409', async () => {
    const server = await OwnServer.deploy();
    await server.enrollAgent();
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));

    const [first, second] = await Promise.all([server.post('/redeploy'), server.post('/redeploy')]);
    expect([first.status, second.status].sort()).toEqual([202, 409]);
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));
    const detail = await server.detail();
    expect(detail.current_revision).toBe(2);
    expect(detail.revisions.map((entry) => [entry.revision, entry.status])).toEqual([
      [2, 'running'],
      [1, 'superseded'],
    ]);
  });

  it('rolls a broken update back: deploy_app fails, the last good revision is applied again, the deployment ends failed saying so', async () => {
    const server = await OwnServer.deploy();
    const agent = await server.enrollAgent();
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));

    expect((await server.post('/redeploy')).status).toBe(202);
    const broken = await server.nextCommand();
    await agent.report(broken.command_id, { status: 'failed', error: 'pull access denied for nosuch/image' });
    const rollback = await server.nextCommand();
    expect(rollback.type).toBe('deploy_app');
    await agent.report(rollback.command_id, { result: { status: 'ok' } });
    const events = await server.eventsUntil(ended('failed'));
    expect(events.at(-1)!.message).toBe(
      'deploy_app of revision 2 failed: postgrest: pull access denied for nosuch/image. Rolled back to revision 1, which is running again.',
    );
    const detail = await server.detail();
    expect(detail.current_revision).toBe(1);
    expect(detail.revisions.map((entry) => [entry.revision, entry.status])).toEqual([
      [2, 'failed'],
      [1, 'running'],
    ]);
  });

  it('rolls back an update whose services do not come up before the health deadline', async () => {
    const server = await OwnServer.deploy();
    const agent = await server.enrollAgent();
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));

    expect((await server.post('/redeploy')).status).toBe(202);
    const apply = await server.nextCommand();
    await agent.report(apply.command_id, { result: { status: 'ok' } });
    const health = await server.nextCommand();
    await server.expireStep();
    await agent.report(health.command_id, { result: healthy(server.hash, ['postgrest'], ['postgrest']) });
    const rollback = await server.nextCommand();
    expect(rollback.type).toBe('deploy_app');
    await agent.report(rollback.command_id, { result: { status: 'ok' } });
    const events = await server.eventsUntil(ended('failed'));
    expect(events.at(-1)!.message).toMatch(/^Revision 2 did not become healthy within 5 min \(not running: postgrest \(exited\)\)\. Rolled back to revision 1/);
  });

  it('rolls back to a chosen revision, and refuses one that does not exist', async () => {
    const server = await OwnServer.deploy();
    await server.enrollAgent();
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));
    expect((await server.post('/redeploy')).status).toBe(202);
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));

    expect((await server.post('/rollback', { revision: 9 })).status).toBe(404);
    const started = await server.post('/rollback', { revision: 1 });
    expect(started.status).toBe(202);
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));
    expect((await server.detail()).current_revision).toBe(1);
  });

  it('takes down a service the applied revision no longer has (deploy_app never stops one): remove_app for it before the health check', async () => {
    const server = await OwnServer.deploy();
    const agent = await server.enrollAgent();
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));

    // Revision 2 adds a service; rolling back to revision 1 drops it again.
    const form = structuredClone(projectForms[1]!.body) as { custom: { web: Array<Record<string, unknown>> } };
    const postgrest = form.custom.web[0]!;
    form.custom.web.push({ ...postgrest, _id: 'cache0000000001', name: 'Cache', code: 'cache', dockerhub_name: 'redis:7.4', ports: {}, shared_ports: [], environment: [], volumes: [], custom_preset: { volumes: [], environment: [], shared_ports: [], restart: 'always' } });
    const updated = await api(`/project/${server.project.id}`, jsonRequest('PUT', form, server.owner));
    expect(updated.status, await updated.clone().text()).toBe(200);
    expect((await server.post('/redeploy')).status).toBe(202);
    for (const service of ['postgrest', 'cache']) {
      const apply = await server.nextCommand();
      expect([apply.type, apply.parameters?.app_code]).toEqual(['deploy_app', service]);
      await agent.report(apply.command_id, { result: { status: 'ok' } });
    }
    // Queued in one transaction, they are claimed in compose order: created_at must not tie.
    const applied = (await commandsOf(server.hash, 'deploy_app')).filter((command) => command.idempotencyKey?.includes(':r2:'));
    const queuedAt = (service: string) => applied.find((command) => command.parameters?.app_code === service)!.createdAt.getTime();
    expect(queuedAt('postgrest')).toBeLessThan(queuedAt('cache'));
    const health = await server.nextCommand();
    await agent.report(health.command_id, { result: healthy(server.hash, ['postgrest', 'cache']) });
    await server.eventsUntil(ended('completed'));

    expect((await server.post('/rollback', { revision: 1 })).status).toBe(202);
    const apply = await server.nextCommand();
    expect([apply.type, apply.parameters?.app_code]).toEqual(['deploy_app', 'postgrest']);
    await agent.report(apply.command_id, { result: { status: 'ok' } });
    const drop = await server.nextCommand();
    expect([drop.type, drop.parameters]).toEqual(['remove_app', expect.objectContaining({ app_code: 'cache', delete_config: false, remove_volumes: false })]);
    await agent.report(drop.command_id, { result: { status: 'ok' } });
    const check = await server.nextCommand();
    expect(check.type).toBe('health');
    await agent.report(check.command_id, { result: healthy(server.hash, ['postgrest']) });
    const events = await server.eventsUntil(ended('completed'));
    expect(events.map((event) => event.message)).toContain('Revision 1 applied (postgrest); cache, which it does not have, stopped and deleted');
    expect((await commandsOf(server.hash, 'remove_app')).map((command) => command.parameters)).toEqual([expect.objectContaining({ app_code: 'cache' })]);
  });

  it('removes the stack: remove_app for each service, then removed', async () => {
    const server = await OwnServer.deploy();
    const agent = await server.enrollAgent();
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));

    expect((await server.post('', undefined, 'DELETE')).status).toBe(202);
    const remove = await server.nextCommand();
    expect(remove.type).toBe('remove_app');
    expect(remove.parameters).toMatchObject({ app_code: 'postgrest' });
    await agent.report(remove.command_id, { result: { status: 'ok' } });
    const events = await server.eventsUntil(ended('removed'));
    expect(events.at(-1)!.message).toMatch(/^Removed: postgrest/);
    const removed = await server.detail();
    expect(removed).toMatchObject({ status: 'removed', addresses: [], current_revision: null });
    expect(removed.revisions.map((entry) => entry.status)).toEqual(['superseded']);
    expect((await server.post('/redeploy')).status).toBe(409);
  });

  it('cancels: a first deploy ends cancelled; a cancelled redeploy ends failed and can be redeployed again', async () => {
    const first = await OwnServer.deploy();
    const cancelled = await first.post('/cancel');
    expect(cancelled.status).toBe(200);
    expect((await first.detail()).status).toBe('cancelled');
    expect((await first.enroll()).status).toBe(410);

    const server = await OwnServer.deploy();
    await server.enrollAgent();
    await applyAndReportHealthy(server);
    await server.eventsUntil(ended('completed'));
    expect((await server.post('/redeploy')).status).toBe(202);
    expect((await server.post('/cancel')).status).toBe(200);
    const detail = await server.detail();
    expect(detail.status).toBe('failed');
    expect(detail.message).toMatch(/^Cancelled by the user during the redeploy of revision 2: the server may run part of it \(revision 1 ran before\)$/);
    expect(await commandsOf(server.hash, 'deploy_app')).toEqual(expect.arrayContaining([expect.objectContaining({ status: 'cancelled' })]));
    expect((await server.post('/redeploy')).status).toBe(202);
  });

  it("answers the enrollment once the stack's deploy_app is queued, and the last deploy_app's report once the health check is: the agent's next poll finds each", async () => {
    const server = await OwnServer.deploy();
    await server.enrollAgent(false);
    // Read at once, with no wait: the enrollment's answer came after the step's commit.
    expect((await commandsOf(server.hash, 'deploy_app')).map((row) => row.status)).toEqual(['queued']);
    const apply = await server.nextCommand();
    expect((await server.agent!.report(apply.command_id, { result: { status: 'ok' } })).status).toBe(200);
    // Read at once, with no wait: the report's answer came after the step's commit.
    expect((await commandsOf(server.hash, 'health')).map((row) => row.status)).toEqual(['queued']);
  });

  it('a cancel while an engine step holds the operation waits for the step, and both end (the locks are taken in one order)', async () => {
    const server = await OwnServer.deploy();
    const { cancel } = await withDatabase((db) =>
      db.transaction(async (tx) => {
        // As a step does: the running operation's row first, then the deployment's.
        await tx.execute(sql`select id from deployment_operation where deployment_id = ${server.deploymentId} and status = 'running' for update`);
        const holder = ((await tx.execute(sql`select pg_backend_pid() as pid`)).rows[0] as { pid: number }).pid;
        const cancel = api(server.path('/cancel'), { method: 'POST', headers: server.owner });
        // The cancel is blocked on the operation's row, which this transaction holds (its statement on
        // deployment_operation: the lock it now takes first, or, the other way round, its update).
        const blockedCancel = sql`select count(*)::int as n from pg_stat_activity
          where ${holder} = any(pg_blocking_pids(pid)) and (query like 'select "id" from "deployment_operation"%' or query like 'update "deployment_operation"%')`;
        for (let looks = 0; ; looks++) {
          const waiting = await withDatabase((other) => other.execute(blockedCancel));
          if ((waiting.rows[0] as { n: number }).n > 0) break;
          if (looks > 200) throw new Error('the cancel never waited for the operation');
        }
        await tx.execute(sql`update deployment set updated_at = now() where id = ${server.deploymentId}`);
        return { cancel }; // not the promise itself: the transaction would wait for it before committing
      }),
    );
    expect((await cancel).status).toBe(200);
    expect((await server.detail()).status).toBe('cancelled');
  });

  it('refuses a provider it cannot create servers on, naming the ones it can', async () => {
    const project = await createProjectFor(uniqueId('engine'));
    const response = await requestAndSettle(`/project/${project.id}/deploy`, jsonRequest('POST', { ...ownDeploy, cloud: { provider: 'lo', cloud_token: 'x'.repeat(20) } }, bearerFor('group_user', project.userId)));
    expect(response.status).toBe(422);
    expect(((await response.json()) as { message: string }).message).toMatch(/deploys to: own, htz, do/);
  });
});
