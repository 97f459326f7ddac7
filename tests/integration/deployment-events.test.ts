// A deployment's event log through GET /project/{id}/deployments/{deployment_id}/events: written by
// every change (deploy, install-service webhooks, cancel, watchdog, the agent), read in order after a
// cursor, paged, held until the next event, and only by those who may see the deployment.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { runScheduledJobs } from '../../functions/cron.ts';
import { api, bearerFor, createApiClientFor, hmacHeaders, jsonRequest, uniqueId } from '../helpers/auth.ts';
import { AgentSimulator } from '../helpers/agent-simulator.ts';
import { withDatabase } from '../helpers/db.ts';
import { createProjectFor, deploy, postProgress, type ProjectRef } from '../helpers/deploy.ts';
import { deployBodies } from '../helpers/fixtures.ts';

const deployBody = { ...deployBodies.deploy2, cloud: { provider: 'htz', cloud_token: 'hcloud-events-test-token-0123456789', save_token: false } };

interface EventsAnswer {
  list: Array<{ seq: number; kind: string; status: string | null; progress: number | null; message: string | null; subject: string | null; at: string }>;
  meta: { after: number; last_seq: number; latest_seq: number; status: string; terminal: boolean };
}

async function startDeployment(owner = uniqueId('ev')) {
  const project = await createProjectFor(owner);
  const { status, body } = await deploy(project, deployBody);
  expect(status).toBe(202);
  return { project, id: body.item.deployment_id, hash: body.item.deployment_hash };
}

const eventsPath = (project: ProjectRef, id: number, query = '') => `/project/${project.id}/deployments/${id}/events${query}`;

async function events(project: ProjectRef, id: number, query = '', headers: Record<string, string> = bearerFor('group_user', project.userId)) {
  const response = await api(eventsPath(project, id, query), { headers });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as EventsAnswer;
}

describe('the deployment event log', () => {
  it('records the deployment and each install-service message in order; pages follow the cursor', async () => {
    const { project, id } = await startDeployment();
    const steps = [
      { status: 'in_progress', progress: 10, step: 'server', message: 'Creating the server' },
      { status: 'in_progress', progress: 50, step: 'docker', message: 'Installing Docker' },
      { status: 'completed', progress: 100, step: 'stack', message: 'Deployed' },
    ];
    for (const [index, step] of steps.entries()) {
      expect((await postProgress({ deploy_id: id, ...step }, { messageId: `ev-${id}-${index}` })).status).toBe(200);
    }

    const all = await events(project, id);
    expect(all.list.map((e) => [e.seq, e.kind, e.status, e.progress, e.subject, e.message])).toEqual([
      [1, 'created', 'pending', 0, null, 'Queued for the install service'],
      [2, 'progress', 'in_progress', 10, 'server', 'Creating the server'],
      [3, 'progress', 'in_progress', 50, 'docker', 'Installing Docker'],
      [4, 'progress', 'completed', 100, 'stack', 'Deployed'],
    ]);
    expect(all.meta).toEqual({ after: 0, last_seq: 4, latest_seq: 4, status: 'completed', terminal: true });

    const first = await events(project, id, '?limit=2');
    expect(first.list.map((e) => e.seq)).toEqual([1, 2]);
    expect(first.meta.last_seq).toBe(2);
    expect(first.meta.latest_seq).toBe(4);
    const rest = await events(project, id, `?after=${first.meta.last_seq}&limit=2`);
    expect(rest.list.map((e) => e.seq)).toEqual([3, 4]);
    const past = await events(project, id, '?after=99');
    expect(past.list).toEqual([]);
    expect(past.meta.last_seq).toBe(99);
  });

  it('a redelivered webhook adds no event', async () => {
    const { project, id } = await startDeployment();
    const message = { deploy_id: id, status: 'in_progress', progress: 30, message: 'Working' };
    expect((await postProgress(message, { messageId: `dup-${id}` })).status).toBe(200);
    const again = await postProgress(message, { messageId: `dup-${id}` });
    expect(((await again.json()) as { item: { duplicate: boolean } }).item.duplicate).toBe(true);
    expect((await events(project, id)).list.map((e) => e.kind)).toEqual(['created', 'progress']);
  });

  it('a waiting request is woken by the next webhook, without waiting out its time', async () => {
    const { project, id } = await startDeployment();
    // The wait outlasts the test's own time limit: only the webhook (read before the wait parks, or
    // its ring after) can end it in time.
    const waiting = events(project, id, '?after=1&wait=25');
    expect((await postProgress({ deploy_id: id, status: 'in_progress', progress: 40, message: 'Woken' }, { messageId: `wake-${id}` })).status).toBe(200);
    const answer = await waiting;
    expect(answer.list.map((e) => [e.seq, e.message])).toEqual([[2, 'Woken']]);
  }, 15_000);

  it('answers at once when events already follow the cursor, even with wait', async () => {
    const { project, id } = await startDeployment();
    const answer = await events(project, id, '?after=0&wait=25');
    expect(answer.list.map((e) => e.kind)).toEqual(['created']);
  }, 10_000);

  it('a cancel and the watchdog end the log with a terminal event that says why', async () => {
    const cancelled = await startDeployment();
    const cancel = await api(`/project/${cancelled.project.id}/deployments/${cancelled.id}/cancel`, jsonRequest('POST', {}, bearerFor('group_user', cancelled.project.userId)));
    expect(cancel.status).toBe(200);
    const afterCancel = await events(cancelled.project, cancelled.id, '?after=1');
    expect(afterCancel.list.map((e) => [e.kind, e.status, e.message])).toEqual([['cancelled', 'cancelled', 'Cancelled by the user']]);
    expect(afterCancel.meta.terminal).toBe(true);

    const overdue = await startDeployment();
    await withDatabase((db) =>
      db.execute(sql`update deployment set created_at = now() - interval '31 minutes', deadline_at = now() - interval '1 minute' where id = ${overdue.id}`),
    );
    await runScheduledJobs(env as never);
    const timedOut = await events(overdue.project, overdue.id, '?after=1');
    expect(timedOut.list.map((e) => [e.kind, e.status, e.message])).toEqual([['timed_out', 'timed_out', "Timed out: not finished after 30 min (the deployment's deadline)"]]);
  });

  it('the agent’s registration, its commands and the apps’ status are events of the deployment', async () => {
    const { project, id, hash } = await startDeployment();
    const registered = await api(
      '/api/v1/agent/register',
      jsonRequest('POST', { deployment_hash: hash, agent_version: '0.2.1', capabilities: ['docker'], system_info: { hostname: 'srv-1', os: 'linux', cpu_count: 2 }, public_key: null }),
    );
    expect(registered.status, await registered.clone().text()).toBe(201);
    const { item } = (await registered.json()) as { item: { agent_id: string; agent_token: string } };
    const agent = new AgentSimulator({ agentId: item.agent_id, token: item.agent_token, deploymentHash: hash });

    const created = await api('/api/v1/commands', jsonRequest('POST', { deployment_hash: hash, command_type: 'health', parameters: { app_code: 'web' } }, bearerFor('group_user', project.userId)));
    expect(created.status, await created.clone().text()).toBe(201);
    const commandId = ((await created.json()) as { item: { command_id: string } }).item.command_id;
    const claimed = await agent.wait(1);
    expect(claimed.body.item?.command_id).toBe(commandId);
    expect((await agent.report(commandId, { result: { ok: true } })).status).toBe(200);
    expect((await agent.appStatus('web', 'running')).status).toBe(200);

    const log = await events(project, id, '?after=1');
    expect(log.list.map((e) => [e.kind, e.status, e.subject])).toEqual([
      ['agent', 'registered', null],
      ['command', 'queued', commandId],
      ['command', 'sent', commandId],
      ['command', 'completed', commandId],
      ['app_status', 'running', 'web'],
    ]);
    expect(log.list[2]!.message).toBe('health: taken by the agent (attempt 1)');
    expect(log.list.map((e) => e.seq)).toEqual([2, 3, 4, 5, 6]);
  });

  it('only the owner, admins and the owner’s API clients read it; others find no deployment', async () => {
    const { project, id } = await startDeployment();
    const path = eventsPath(project, id);
    expect((await api(path)).status).toBe(401);
    expect((await api(path, { headers: bearerFor('group_user', uniqueId('other')) })).status).toBe(404);
    expect((await api(path, { headers: bearerFor('group_admin', uniqueId('admin')) })).status).toBe(200);
    // The deployment under another project's id is not found either.
    const otherProject = await createProjectFor(project.userId);
    expect((await api(eventsPath(otherProject, id), { headers: bearerFor('group_user', project.userId) })).status).toBe(404);

    const ownClient = await createApiClientFor(project.userId);
    const mine = await api(path, { headers: await hmacHeaders(ownClient, 'GET', path) });
    expect(mine.status).toBe(200);
    expect(((await mine.json()) as EventsAnswer).list[0]!.kind).toBe('created');
    const strangerClient = await createApiClientFor(uniqueId('cli'));
    expect((await api(path, { headers: await hmacHeaders(strangerClient, 'GET', path) })).status).toBe(404);
  });

  it('refuses a bad cursor, limit or wait with the field named', async () => {
    const { project, id } = await startDeployment();
    for (const [query, field] of [
      ['?after=-1', 'after'],
      ['?after=abc', 'after'],
      ['?limit=0', 'limit'],
      ['?limit=201', 'limit'],
      ['?wait=26', 'wait'],
    ] as const) {
      const response = await api(eventsPath(project, id, query), { headers: bearerFor('group_user', project.userId) });
      expect(response.status, query).toBe(400);
      const body = (await response.json()) as { errors: Array<{ path: string }> };
      expect(body.errors.map((e) => e.path), query).toContain(`query.${field}`);
    }
  });
});
