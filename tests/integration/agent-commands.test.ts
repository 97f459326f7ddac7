import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it, vi } from 'vitest';
import { RequestDatabase } from '../../db/client.ts';
import { waitForCommand } from '../../functions/services/command-wait.ts';
import { claimNextCommand, expireCommandLeases } from '../../functions/services/commands.ts';
import { durableDoorbell } from '../../functions/services/doorbell.ts';
import { AgentSimulator } from '../helpers/agent-simulator.ts';
import { agentHeaders, api, bearerFor, createAgent, createApiClientFor, hmacHeaders, jsonRequest, uniqueId, type TestAgent } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

async function newAgent(): Promise<{ agent: TestAgent; sim: AgentSimulator }> {
  const agent = await createAgent();
  return { agent, sim: new AgentSimulator({ agentId: agent.agentId, token: agent.token, deploymentHash: agent.deploymentHash }) };
}

async function createCommand(agent: TestAgent, body: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const response = await api(
    '/api/v1/commands',
    jsonRequest('POST', { deployment_hash: agent.deploymentHash, command_type: 'health', parameters: { app_code: 'web' }, ...body }, { ...bearerFor('group_user', agent.ownerId), ...headers }),
  );
  return { status: response.status, body: (await response.json()) as { message: string; item: { command_id: string; status: string; parameters: unknown } } };
}

async function commandRow(commandId: string) {
  return withDatabase(async (db) => (await db.execute<Record<string, unknown>>(sql`select * from commands where command_id = ${commandId}`)).rows[0]!);
}

describe.concurrent('commands through the agent, as the real agent speaks', () => {
  it('create → wait → report → final status, end to end', async () => {
    const { agent, sim } = await newAgent();
    const created = await createCommand(agent, { command_type: 'restart', priority: 'HIGH', parameters: { app_code: 'web', force: true }, timeout_seconds: 120 });
    expect(created.status).toBe(201);
    expect(created.body.item).toMatchObject({ status: 'queued', parameters: { app_code: 'web', force: true } });

    const polled = await sim.wait(30);
    expect(polled.status).toBe(200);
    expect(polled.body.item).toMatchObject({ command_id: created.body.item.command_id, type: 'restart', deployment_hash: agent.deploymentHash, status: 'sent', attempts: 1, priority: 'high' });
    expect(polled.body.meta?.next_poll_secs).toBe(0);

    const reported = await sim.report(created.body.item.command_id, { result: { restarted: true } });
    expect(reported.status).toBe(200);
    expect(reported.body.item).toMatchObject({ accepted: true, duplicate: false });

    const final = await api(`/api/v1/commands/${agent.deploymentHash}/${created.body.item.command_id}`, { headers: bearerFor('group_user', agent.ownerId) });
    expect(((await final.json()) as { item: Record<string, unknown> }).item).toMatchObject({ status: 'completed', result: { restarted: true }, error: null });
    const row = await commandRow(created.body.item.command_id);
    expect(row.sent_at).not.toBeNull();
    expect(row.completed_at).not.toBeNull();
    expect(row.lease_expires_at).toBeNull();
  });

  it('an empty poll answers item null after the (short) timeout; parameters are never null', async () => {
    const { agent, sim } = await newAgent();
    const empty = await sim.wait(1);
    expect(empty).toEqual({ status: 200, body: { message: 'No command available', item: null, meta: { next_poll_secs: 0 } } });
    await createCommand(agent, { command_type: 'stop_all', parameters: null });
    const polled = await sim.wait(1);
    expect(polled.body.item?.parameters).toEqual({});
  });

  it('a waiting agent receives a new command as soon as it is created', async () => {
    const { agent, sim } = await newAgent();
    const waiting = sim.wait(25);
    const created = await createCommand(agent);
    const polled = await waiting;
    expect(polled.body.item?.command_id).toBe(created.body.item.command_id);
  });

  it('two waits and one command: delivered once', async () => {
    const { agent, sim } = await newAgent();
    const [first, second] = [sim.wait(3), sim.wait(3)];
    await createCommand(agent);
    const answers = await Promise.all([first, second]);
    // The other wait either timed out empty or was ended by the newer one (409).
    expect(answers.filter((answer) => answer.status === 200 && answer.body.item)).toHaveLength(1);
    expect(answers.every((answer) => answer.status === 200 || answer.status === 409)).toBe(true);
  });

  it('delivers the highest priority first, oldest first within a priority', async () => {
    const { agent, sim } = await newAgent();
    const low = await createCommand(agent, { priority: 'low' });
    const normalA = await createCommand(agent, { priority: 'normal' });
    const critical = await createCommand(agent, { priority: 'critical' });
    const normalB = await createCommand(agent, {});
    const order = [];
    for (let i = 0; i < 4; i++) order.push((await sim.wait(1)).body.item?.command_id);
    expect(order).toEqual([critical, normalA, normalB, low].map((c) => c.body.item.command_id));
  });

  it('a command whose lease ends without a report is offered again, then expires after its attempts', async () => {
    const { agent, sim } = await newAgent();
    const created = await createCommand(agent, { timeout_seconds: 1 });
    const id = created.body.item.command_id;
    const endLease = () => withDatabase((db) => db.execute(sql`update commands set lease_expires_at = now() - interval '1 second' where command_id = ${id}`));
    expect((await sim.wait(1)).body.item?.attempts).toBe(1);
    expect((await sim.wait(1)).body.item).toBeNull(); // still leased
    await endLease();
    // Other test files run the cron at the same time, on the same database. One that is moving this
    // command back to queued holds its row, so the claim skips it; that cron rings its own file's
    // doorbell, not this one, so the wait ends empty. The next wait finds it queued.
    const offeredAgain = (await sim.wait(1)).body.item ?? (await sim.wait(1)).body.item;
    expect(offeredAgain).toMatchObject({ command_id: id, attempts: 2 });
    await endLease();
    // Whichever cron run moves the command first reports it, so the row is what this checks.
    await withDatabase((db) => expireCommandLeases(db));
    expect((await commandRow(id)).status).toBe('queued');
    expect((await sim.wait(1)).body.item).toMatchObject({ command_id: id, attempts: 3 });
    await endLease();
    expect((await sim.wait(1)).body.item).toBeNull(); // out of attempts
    await withDatabase((db) => expireCommandLeases(db));
    expect((await commandRow(id)).status).toBe('expired');
    expect((await sim.report(id)).status).toBe(409);
  });

  it('the same report twice is accepted once and answered 200 both times; a different late report is 409', async () => {
    const { agent, sim } = await newAgent();
    const created = await createCommand(agent);
    await sim.wait(1);
    const first = await sim.report(created.body.item.command_id, { status: 'failed', error: 'container not found', errors: [{ code: 'not_found', message: 'no container web' }] });
    expect(first.status).toBe(200);
    const again = await sim.resend(first.sent);
    expect(again.status).toBe(200);
    expect(((await again.json()) as { item: { duplicate: boolean } }).item.duplicate).toBe(true);
    const row = await commandRow(created.body.item.command_id);
    expect(row.status).toBe('failed');
    expect(row.error).toEqual({ error: 'container not found', errors: [{ code: 'not_found', message: 'no container web' }] });
    expect((await sim.report(created.body.item.command_id, { status: 'success' })).status).toBe(409);
  });

  it('cancel: a queued command is never delivered; a sent one cannot be reported any more', async () => {
    const { agent, sim } = await newAgent();
    const owner = bearerFor('group_user', agent.ownerId);
    const queued = await createCommand(agent);
    const cancel = await api(`/api/v1/commands/${agent.deploymentHash}/${queued.body.item.command_id}/cancel`, { method: 'POST', headers: owner });
    expect(cancel.status).toBe(200);
    expect((await sim.wait(1)).body.item).toBeNull();

    const sent = await createCommand(agent);
    await sim.wait(1);
    expect((await api(`/api/v1/commands/${agent.deploymentHash}/${sent.body.item.command_id}/cancel`, { method: 'POST', headers: owner })).status).toBe(200);
    expect((await sim.report(sent.body.item.command_id)).status).toBe(409);
    const twice = await api(`/api/v1/commands/${agent.deploymentHash}/${sent.body.item.command_id}/cancel`, { method: 'POST', headers: owner });
    expect(twice.status).toBe(409);
  });

  it('401 for bad credentials, 403 for another deployment, 404 for another deployment’s command', async () => {
    const { agent, sim } = await newAgent();
    const other = await newAgent();
    expect((await new AgentSimulator({ ...sim, token: 'wrong-token' }).wait(1)).status).toBe(401);
    const foreign = await sim.wait(1, other.agent.deploymentHash);
    expect(foreign.status).toBe(403);
    expect(foreign.body.message).toBe('Not authorized for this deployment');
    const theirs = await createCommand(other.agent);
    expect((await sim.report(theirs.body.item.command_id)).status).toBe(404);
    expect((await sim.report('cmd_unknown')).status).toBe(404);
    // a user is not an agent
    expect((await api(`/api/v1/agent/commands/wait/${agent.deploymentHash}`, { headers: bearerFor('group_user', agent.ownerId) })).status).toBe(403);
  });

  it('only the deployment’s owner (or an admin, or the owner’s API client) reaches its commands; others get 404', async () => {
    const { agent } = await newAgent();
    const created = await createCommand(agent);
    const stranger = bearerFor('group_user', uniqueId('str'));
    expect((await api('/api/v1/commands', jsonRequest('POST', { deployment_hash: agent.deploymentHash, command_type: 'health', parameters: { app_code: 'x' } }, stranger))).status).toBe(404);
    expect((await api(`/api/v1/commands/${agent.deploymentHash}`, { headers: stranger })).status).toBe(404);
    expect((await api(`/api/v1/commands/${agent.deploymentHash}/${created.body.item.command_id}`, { headers: stranger })).status).toBe(404);
    expect((await api(`/api/v1/commands/${agent.deploymentHash}/${created.body.item.command_id}/cancel`, { method: 'POST', headers: stranger })).status).toBe(404);
    expect((await api(`/api/v1/commands/${agent.deploymentHash}`, { headers: bearerFor('group_admin', uniqueId('adm')) })).status).toBe(200);
    const apiClient = await createApiClientFor(agent.ownerId);
    const viaClient = await api(`/api/v1/commands/${agent.deploymentHash}`, { headers: await hmacHeaders(apiClient, 'GET', `/api/v1/commands/${agent.deploymentHash}`) });
    expect(((await viaClient.json()) as { list: unknown[] }).list).toHaveLength(1);
  });

  it('validates typed commands’ parameters and the rest of the body with 400 naming the field', async () => {
    const { agent } = await newAgent();
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ command_type: 'health', parameters: {} }, 'body.parameters.app_code'],
      [{ command_type: 'logs', parameters: { app_code: 'web', limit: 5000 } }, 'body.parameters.limit'],
      [{ command_type: 'stacker.stop', parameters: { app_code: 'web', timeout: 0 } }, 'body.parameters.timeout'],
      [{ command_type: 'exec', parameters: {} }, 'body.parameters.command'],
      [{ priority: 'urgent' }, 'body.priority'],
      [{ timeout_seconds: 0 }, 'body.timeout_seconds'],
      [{ command_type: 'rm -rf /' }, 'body.command_type'],
      [{ parameters: [1, 2] }, 'body.parameters'],
    ];
    for (const [body, path] of cases) {
      const response = await createCommand(agent, body);
      expect(response.status, path).toBe(400);
      expect((response.body as unknown as { errors: Array<{ path: string }> }).errors.map((e) => e.path), path).toContain(path);
    }
    const unknownDeployment = await api('/api/v1/commands', jsonRequest('POST', { deployment_hash: 'deployment_none', command_type: 'health', parameters: { app_code: 'w' } }, bearerFor('group_user', agent.ownerId)));
    expect(unknownDeployment.status).toBe(404);
  });

  it('an Idempotency-Key makes a retried create answer the first command', async () => {
    const { agent } = await newAgent();
    const first = await createCommand(agent, {}, { 'idempotency-key': 'retry-1' });
    const second = await createCommand(agent, {}, { 'idempotency-key': 'retry-1' });
    expect(first.status).toBe(201);
    expect(second.status).toBe(200);
    expect(second.body.item.command_id).toBe(first.body.item.command_id);
  });

  it('no query runs and no connection is held while an agent waits: one claim after listening, then only the doorbell', async () => {
    const { agent } = await newAgent();
    const database = new RequestDatabase({ url: env.DATABASE_URL, wsProxy: env.DATABASE_WS_PROXY });
    let claims = 0;
    try {
      const result = await waitForCommand({
        claim: () => {
          claims++;
          return claimNextCommand(database.db, agent.deploymentHash);
        },
        doorbell: durableDoorbell(env.DEPLOYMENT_DOORBELL),
        deploymentHash: agent.deploymentHash,
        deadline: Date.now() + 1_500,
        beforeWait: () => database.release(),
      });
      expect(result).toEqual({ superseded: false });
      expect(claims).toBe(1);
      // and the connection was let go for the wait, not held open
      expect(database.opened).toBe(false);
    } finally {
      await database.close();
    }
  });

  it('apps post their status (never 401/403 for a valid agent) and the owner sees it with the agent’s liveness', async () => {
    const { agent, sim } = await newAgent();
    expect((await sim.appStatus('web', 'running', ['started'])).status).toBe(200);
    expect((await sim.appStatus('db', 'error')).status).toBe(200);
    await sim.wait(1);
    const overview = await api(`/api/v1/deployments/${agent.deploymentHash}/agent`, { headers: bearerFor('group_user', agent.ownerId) });
    const item = ((await overview.json()) as { item: { agent: { status: string; agent_id: string }; apps: Array<{ app_code: string; status: string }> } }).item;
    expect(item.agent).toMatchObject({ agent_id: agent.agentId, status: 'online' });
    expect(item.apps.map((app) => [app.app_code, app.status])).toEqual([['db', 'error'], ['web', 'running']]);

    await withDatabase((db) => db.execute(sql`update agents set last_heartbeat = now() - interval '10 minutes' where id = ${agent.agentId}`));
    const later = await api(`/api/v1/deployments/${agent.deploymentHash}/agent`, { headers: bearerFor('group_user', agent.ownerId) });
    expect(((await later.json()) as { item: { agent: { status: string } } }).item.agent.status).toBe('offline');
    expect((await api(`/api/v1/deployments/${agent.deploymentHash}/agent`, { headers: bearerFor('group_user', uniqueId('s')) })).status).toBe(404);
  });

  it('a new wait of the same agent ends the older one with 409, and the new one gets the command', async () => {
    const { agent, sim } = await newAgent();
    const older = sim.wait(30);
    // The older wait has arrived once its first poll wrote the heartbeat.
    await vi.waitFor(async () => {
      const row = await withDatabase(async (db) => (await db.execute<{ t: string | null }>(sql`select last_heartbeat::text as t from agents where id = ${agent.agentId}`)).rows[0]!);
      expect(row.t).not.toBeNull();
    }, { timeout: 15_000 }); // vitest's 1 s default is less than a first poll takes on a loaded 2-core machine (seen)
    const newer = sim.wait(30);
    const ended = await older;
    expect(ended.status).toBe(409);
    expect(ended.body.message).toMatch(/newer wait/);
    const created = await createCommand(agent);
    expect(created.status).toBe(201);
    expect((await newer).body.item?.command_id).toBe(created.body.item.command_id);
  });

  it('heartbeat is written at most once per 30 s, not on every poll', async () => {
    const { agent, sim } = await newAgent();
    await sim.wait(1);
    const first = await withDatabase(async (db) => (await db.execute<{ t: string }>(sql`select last_heartbeat::text as t from agents where id = ${agent.agentId}`)).rows[0]!.t);
    await sim.wait(1);
    const second = await withDatabase(async (db) => (await db.execute<{ t: string }>(sql`select last_heartbeat::text as t from agents where id = ${agent.agentId}`)).rows[0]!.t);
    expect(second).toBe(first);
    expect(agentHeaders(agent)['x-agent-id']).toBe(agent.agentId);
  });
});

describe.concurrent('the cron and command leases', () => {
  it('requeues a delivered command whose lease ended and wakes its waiting agent', async () => {
    const { runScheduledJobs } = await import('../../functions/cron.ts');
    const agent = await createAgent();
    const sim = new AgentSimulator({ agentId: agent.agentId, token: agent.token, deploymentHash: agent.deploymentHash });
    const created = await api('/api/v1/commands', jsonRequest('POST', { deployment_hash: agent.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, bearerFor('group_user', agent.ownerId)));
    const commandId = ((await created.json()) as { item: { command_id: string } }).item.command_id;
    expect((await sim.wait(1)).body.item?.command_id).toBe(commandId);
    await withDatabase((db) => db.execute(sql`update commands set lease_expires_at = now() - interval '1 second' where command_id = ${commandId}`));
    // (Its report counts the whole database, where other test files run the cron too: the row is the check.)
    await runScheduledJobs(env as never);
    expect((await commandRow(commandId)).status).toBe('queued');
    expect((await sim.wait(1)).body.item).toMatchObject({ command_id: commandId, attempts: 2 });
  });
});

describe.concurrent('NUL characters, which PostgreSQL cannot store in JSON', () => {
  it('a command whose parameters hold one is refused with the field named; an agent’s output that holds one is kept, NUL replaced', async () => {
    const { agent, sim } = await newAgent();
    const refused = await createCommand(agent, { command_type: 'custom_script', parameters: { script: 'echo \u0000' } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('body.parameters');

    const created = await createCommand(agent);
    expect(created.status).toBe(201);
    expect((await sim.wait(1)).body.item?.command_id).toBe(created.body.item.command_id);
    const reported = await sim.report(created.body.item.command_id, { result: { output: 'line\u0000end' } });
    expect(reported.status).toBe(200);
    expect((await commandRow(created.body.item.command_id)).result).toEqual({ output: 'line\uFFFDend' });
    expect((await sim.appStatus('web', 'running', ['boot\u0000log'])).status).toBe(200);
  });
});

