// The wait route's hot path (issue 16): the deployment's Durable Object authenticates an idle poll and
// says "nothing claimable" without Postgres; nothing may be lost, doubled, or delivered late because of it.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { HEARTBEAT_FLUSH_MS } from '../../functions/durable/agent-gate-types.ts';
import type { DeploymentDoorbell } from '../../functions/durable/deployment-doorbell.ts';
import { sha256Hex } from '../../functions/services/crypto.ts';
import { doorbellStub, HEARTBEAT_WRITERS, useCredentialNamespace } from '../../functions/services/agent-gate.ts';
import { rotateAgentToken } from '../../functions/services/agent-tokens.ts';
import { runScheduledJobs } from '../../functions/cron.ts';
import type { AgentTokenVault } from '../../functions/services/vault.ts';
import { AgentSimulator } from '../helpers/agent-simulator.ts';
import { agentHeaders, apiWith, bearerFor, createAgent, createDeployment, jsonRequest, type TestAgent, type TestDeployment } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

const DATABASE_DOWN = { DATABASE_URL: 'postgres://postgres@127.0.0.1:9/nowhere' };
const stub = (hash: string): DurableObjectStub<DeploymentDoorbell> => doorbellStub(env.DEPLOYMENT_DOORBELL, hash);
const memoryVault: AgentTokenVault = { store: async () => undefined, read: async () => undefined, remove: async () => undefined };

type WaitBody = { message: string; item: { command_id: string; attempts: number } | null };

/** A wait through the app (waitUntil work finished before it returns), optionally with settings changed. */
async function wait(agent: { agentId: string; token: string; deploymentHash: string }, overrides: Record<string, unknown> = {}, timeout = 1) {
  const started = Date.now();
  const response = await apiWith(overrides, `/api/v1/agent/commands/wait/${agent.deploymentHash}?timeout=${timeout}`, { headers: agentHeaders(agent) });
  return { status: response.status, body: (await response.json()) as WaitBody, ms: Date.now() - started };
}

async function createCommand(agent: TestAgent, body: Record<string, unknown> = {}): Promise<string> {
  const response = await apiWith(
    {},
    '/api/v1/commands',
    jsonRequest('POST', { deployment_hash: agent.deploymentHash, command_type: 'health', parameters: { app_code: 'web' }, ...body }, bearerFor('group_user', agent.ownerId)),
  );
  expect(response.status).toBe(201);
  return ((await response.json()) as { item: { command_id: string } }).item.command_id;
}

/** A command written straight into Postgres: no ring reaches the doorbell. */
async function insertSilently(agent: TestAgent, age = '0 seconds'): Promise<string> {
  const commandId = `cmd_${crypto.randomUUID()}`;
  await withDatabase((db) =>
    db.execute(sql`insert into commands (command_id, deployment_hash, type, created_by, status, created_at, updated_at)
      values (${commandId}, ${agent.deploymentHash}, 'health', 'test', 'queued', now() - ${age}::interval, now() - ${age}::interval)`),
  );
  return commandId;
}

/**
 * Idle polls until the object has learned the agent and that nothing is claimable. Usually the first
 * does it; on a loaded machine its 1 s wait may end before its claim reports back, and the next one
 * learns it.
 */
async function warm(agent: TestAgent): Promise<void> {
  let state: Awaited<ReturnType<ReturnType<typeof stub>['inspect']>> | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    expect((await wait(agent)).status).toBe(200);
    state = await stub(agent.deploymentHash).inspect();
    if (state.agents === 1 && state.cleared === state.version) return;
  }
  expect(state).toMatchObject({ agents: 1, cleared: state?.version });
}

describe.concurrent('an idle poll runs no query', () => {
  it('once the object knows the agent, the wait answers "No command available" with Postgres unreachable', async () => {
    const agent = await createAgent();
    // Cold, the database is needed (and its absence is the usual 503).
    expect((await wait(agent, DATABASE_DOWN)).status).toBe(503);
    await warm(agent);
    for (let i = 0; i < 3; i++) {
      const idle = await wait(agent, DATABASE_DOWN);
      expect(idle.status).toBe(200);
      expect(idle.body).toMatchObject({ message: 'No command available', item: null });
      expect(idle.ms).toBeLessThan(2_500); // the 1 s wait, not a connection timeout
    }
    // A wrong token is never vouched for by the cache: it goes to Postgres (here: unreachable, 503).
    expect((await wait({ ...agent, token: 'x'.repeat(64) }, DATABASE_DOWN)).status).toBe(503);
    expect((await wait({ ...agent, token: 'x'.repeat(64) })).status).toBe(401);
  });

  it('a new command is claimed from Postgres (the ring marks the deployment claimable)', async () => {
    const agent = await createAgent();
    await warm(agent);
    const commandId = await createCommand(agent);
    expect((await wait(agent, DATABASE_DOWN)).status).toBe(503); // it tried to claim
    expect((await wait(agent)).body.item?.command_id).toBe(commandId);
  });

  it('signed waits: a replayed request id is refused by the object, without Postgres', async () => {
    const agent = await createAgent();
    const sim = new AgentSimulator(agent);
    expect((await sim.wait(1)).status).toBe(200);
    const headers = await sim.headers('');
    const url = `/api/v1/agent/commands/wait/${agent.deploymentHash}?timeout=1`;
    expect((await apiWith(DATABASE_DOWN, url, { headers })).status).toBe(200);
    const replayed = await apiWith(DATABASE_DOWN, url, { headers });
    expect(replayed.status).toBe(409);
    expect(((await replayed.json()) as { message: string }).message).toMatch(/Replayed/);
  });
});

describe.concurrent('a signed wait that queued on its way is counted from when it was sent', () => {
  const signedWait = async (sim: AgentSimulator, timeout: number, sentSecondsAgo: number) => {
    const headers = { ...(await sim.headers('')), 'x-timestamp': String(Math.floor(Date.now() / 1000) - sentSecondsAgo) };
    const started = Date.now();
    const response = await apiWith({}, `/api/v1/agent/commands/wait/${sim.deploymentHash}?timeout=${timeout}`, { headers });
    await response.arrayBuffer();
    return { status: response.status, ms: Date.now() - started };
  };

  it.each([
    { when: 'sent 5 s before it arrived: a 7 s wait answers within 3 s (before the agent’s client gives up)', timeout: 7, sentSecondsAgo: 5, from: 1_500, below: 3_500 },
    { when: 'sent just now: the whole timeout (the timestamp’s whole seconds never shorten it)', timeout: 2, sentSecondsAgo: 0, from: 1_900, below: 4_000 },
    // 15 s less 10 s, less up to 20% of 15 s (the spread of long waits): 2 to 5 s.
    { when: 'a timestamp a minute old (a clock behind, or a long queue) takes at most 10 s off the wait', timeout: 15, sentSecondsAgo: 60, from: 1_900, below: 5_500 },
  ])('$when', async ({ timeout, sentSecondsAgo, from, below }) => {
    const sim = new AgentSimulator(await registerThroughApi(await createDeployment()));
    const answer = await signedWait(sim, timeout, sentSecondsAgo);
    expect(answer.status).toBe(200);
    expect(answer.ms).toBeGreaterThanOrEqual(from);
    expect(answer.ms).toBeLessThan(below);
  });
});

/** An agent registered through the API, as the real agent does on its first start (anonymous). */
async function registerThroughApi(deployment: TestDeployment): Promise<TestAgent> {
  const response = await apiWith({}, '/api/v1/agent/register', jsonRequest('POST', { deployment_hash: deployment.deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' }));
  expect(response.status).toBe(201);
  const { item } = (await response.json()) as { item: { agent_id: string; agent_token: string } };
  return { ...deployment, agentId: item.agent_id, token: item.agent_token };
}

const heartbeatOf = (agentId: string) =>
  withDatabase(async (db) => (await db.execute<{ last_heartbeat: string | null; status: string }>(sql`select last_heartbeat, status from agents where id = ${agentId}`)).rows[0]!);

describe.concurrent('a registered agent’s first poll', () => {
  it('runs no query: registration told the object the token and that nothing is claimable', async () => {
    const agent = await registerThroughApi(await createDeployment());
    expect(await stub(agent.deploymentHash).inspect()).toMatchObject({ agents: 1, cleared: 1, version: 1 });
    const first = await wait(agent, DATABASE_DOWN);
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ message: 'No command available', item: null });
    expect(first.ms).toBeLessThan(2_500);
    // Its heartbeat could not be written (the database was down): the next poll writes it.
    expect((await heartbeatOf(agent.agentId)).last_heartbeat).toBeNull();
    expect((await wait(agent)).status).toBe(200);
    expect(await heartbeatOf(agent.agentId)).toMatchObject({ status: 'online', last_heartbeat: expect.any(String) });
  });

  it('writes the agent’s first heartbeat, beside the wait', async () => {
    const agent = await registerThroughApi(await createDeployment());
    expect((await wait(agent)).status).toBe(200);
    expect(await heartbeatOf(agent.agentId)).toMatchObject({ status: 'online', last_heartbeat: expect.any(String) });
  });

  it('first polls of many agents at once: every heartbeat is written (in shared batches), none left queued', async () => {
    const fleet = await Promise.all(Array.from({ length: 3 * HEARTBEAT_WRITERS }, async () => registerThroughApi(await createDeployment())));
    const answers = await Promise.all(fleet.map((agent) => wait(agent)));
    expect(answers.map((answer) => answer.status)).toEqual(fleet.map(() => 200));
    const written = await Promise.all(fleet.map((agent) => heartbeatOf(agent.agentId)));
    expect(written.filter((row) => row?.status === 'online' && row.last_heartbeat)).toHaveLength(fleet.length);
  });

  it('claims a command queued before the agent registered', async () => {
    const deployment = await createDeployment();
    const commandId = await insertSilently({ ...deployment, agentId: '', token: '' });
    const agent = await registerThroughApi(deployment);
    expect((await stub(agent.deploymentHash).inspect()).cleared).toBe(0);
    expect((await wait(agent)).body.item?.command_id).toBe(commandId);
  });

  it('a heartbeat whose read-back differs from what the object vouched with is stored in the object', async () => {
    const agent = await registerThroughApi(await createDeployment());
    // Behind the Worker's back: a previous token in its grace period, which the object has not seen.
    const previous = `previous-${crypto.randomUUID()}`;
    const previousHash = await sha256Hex(previous);
    await withDatabase((db) =>
      db.execute(sql`update agents set previous_token_hash = ${previousHash}, previous_token_expires_at = now() + interval '1 hour' where id = ${agent.agentId}`),
    );
    expect((await wait({ ...agent, token: previous }, DATABASE_DOWN)).status).toBe(503); // not cached: Postgres decides
    expect((await wait(agent)).status).toBe(200); // the first heartbeat reads the row back
    expect((await wait({ ...agent, token: previous }, DATABASE_DOWN)).status).toBe(200); // now vouched for by the object
  });

  it('a wrong token for a registered agent still goes to Postgres', async () => {
    const agent = await registerThroughApi(await createDeployment());
    expect((await wait({ ...agent, token: 'x'.repeat(64) }, DATABASE_DOWN)).status).toBe(503);
    expect((await wait({ ...agent, token: 'x'.repeat(64) })).status).toBe(401);
  });
});

describe.concurrent('tokens stop working when the rules say, never later', () => {
  it('rotation: the old token keeps its grace on the wait route, the new one works at once; with no grace the old one is refused at once', async () => {
    const agent = await createAgent();
    await warm(agent);
    useCredentialNamespace(env.DEPLOYMENT_DOORBELL);
    const graced = await withDatabase((db) => rotateAgentToken({ db, vault: memoryVault }, agent.deploymentHash));
    const renewed = { ...agent, token: graced.agent_token };
    expect((await wait(renewed)).status).toBe(200);
    expect((await wait(agent)).status).toBe(200); // within its grace period

    const revoking = await withDatabase((db) => rotateAgentToken({ db, vault: memoryVault }, agent.deploymentHash, undefined, 0));
    const latest = { ...agent, token: revoking.agent_token };
    expect((await wait(agent)).status).toBe(401);
    expect((await wait(renewed)).status).toBe(401); // its grace was 0
    expect((await wait(latest)).status).toBe(200);
    expect((await wait(latest, DATABASE_DOWN)).status).toBe(200); // and cached again
    expect((await wait(renewed, DATABASE_DOWN)).status).toBe(503); // never vouched for by the cache
  });

  it('re-registration by the owner: the old token keeps only its grace, the new one works at once', async () => {
    const agent = await createAgent();
    await warm(agent);
    const reissued = await apiWith(
      {},
      '/api/v1/agent/register',
      jsonRequest('POST', { deployment_hash: agent.deploymentHash, capabilities: ['docker'], agent_version: '0.2.1' }, bearerFor('group_user', agent.ownerId)),
    );
    expect(reissued.status).toBe(201);
    const token = ((await reissued.json()) as { item: { agent_token: string } }).item.agent_token;
    // Before the answer the object forgot the old token and keeps the new one.
    expect((await wait(agent, DATABASE_DOWN)).status).toBe(503); // the old token: Postgres decides
    expect((await wait({ ...agent, token }, DATABASE_DOWN)).status).toBe(200);
    expect((await wait({ ...agent, token })).status).toBe(200);
    expect((await wait(agent)).status).toBe(200); // within its grace, as Postgres says
    expect((await wait(agent, DATABASE_DOWN)).status).toBe(200); // vouched for by the cache
  });

  it('a change behind the Worker’s back (SQL, the CLI) is seen by the heartbeat flush, at most HEARTBEAT_FLUSH_MS later', async () => {
    const agent = await createAgent();
    const object = stub(agent.deploymentHash);
    await warm(agent);
    const newToken = `rotated-${crypto.randomUUID()}`;
    const newHash = await sha256Hex(newToken);
    await withDatabase((db) =>
      db.execute(sql`update agents set previous_token_hash = token_hash, previous_token_expires_at = now() - interval '1 second', token_hash = ${newHash} where id = ${agent.agentId}`),
    );
    // Within the bound the object still vouches for the old token (documented) ...
    expect((await wait(agent)).status).toBe(200);
    // ... and once its entry is HEARTBEAT_FLUSH_MS old (as if a minute had passed), the flush re-reads the row.
    const gate = await object.agentGate({ agentId: agent.agentId, tokenHash: await sha256Hex(agent.token) });
    expect(gate.kind).toBe('ok');
    const epoch = gate.kind === 'ok' ? gate.epoch : -1;
    await object.agentPrime(
      { agentId: agent.agentId, tokenHash: await sha256Hex(agent.token), previousTokenHash: null, previousTokenExpiresAt: null, checkedAt: Date.now() - HEARTBEAT_FLUSH_MS },
      epoch,
    );
    expect((await wait(agent)).status).toBe(401);
    expect((await wait(agent)).status).toBe(401);
    expect((await wait({ ...agent, token: newToken })).status).toBe(200);
  });

  it('a wait with a token the object does not vouch for opens nothing: the agent’s own wait goes on', async () => {
    const agent = await registerThroughApi(await createDeployment());
    expect((await wait(agent)).status).toBe(200);
    const held = wait(agent, {}, 5);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await wait({ ...agent, token: 'x'.repeat(64) })).status).toBe(401);
    const commandId = await createCommand(agent);
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(answer.body.item?.command_id).toBe(commandId);
    expect(answer.ms).toBeLessThan(4_500); // woken by the ring, not ended by the refused wait's timeout
  });

  it('an agent whose row is gone is refused once the object forgets it', async () => {
    const agent = await createAgent();
    await warm(agent);
    await withDatabase((db) => db.execute(sql`delete from agents where id = ${agent.agentId}`));
    await stub(agent.deploymentHash).forgetAgents();
    expect((await wait(agent)).status).toBe(401);
  });

  it('a cache entry stored from a read older than a change is refused (epoch)', async () => {
    const agent = await createAgent();
    const object = stub(agent.deploymentHash);
    const miss = await object.agentGate({ agentId: agent.agentId, tokenHash: '0'.repeat(64) });
    expect(miss.kind).toBe('miss');
    const epoch = miss.kind === 'miss' ? miss.epoch : -1;
    await object.forgetAgents(); // a rotation between the poll's read and its store
    await object.agentPrime({ agentId: agent.agentId, tokenHash: '0'.repeat(64), previousTokenHash: null, previousTokenExpiresAt: null, checkedAt: Date.now() }, epoch);
    expect((await object.agentGate({ agentId: agent.agentId, tokenHash: '0'.repeat(64) })).kind).toBe('miss');
  });
});

describe.concurrent('nothing lost, nothing doubled', () => {
  it('a command created while the object restarts (its storage lost, the ring missed) is delivered', async () => {
    const agent = await createAgent();
    await warm(agent);
    const commandId = await insertSilently(agent);
    await stub(agent.deploymentHash).reset(); // a new object: it does not know, so it claims
    expect((await wait(agent)).body.item?.command_id).toBe(commandId);
  });

  it('a ring that never arrived: the cron rings deployments with a command queued for a while', async () => {
    const agent = await createAgent();
    await warm(agent);
    const commandId = await insertSilently(agent, '1 minute');
    expect((await wait(agent)).body.item).toBeNull(); // the object was not told
    await runScheduledJobs(env as never);
    expect((await wait(agent)).body.item?.command_id).toBe(commandId);
  });

  it('a lease that ends with no report is offered again (while a command is out, every wait claims)', async () => {
    const agent = await createAgent();
    await warm(agent);
    const commandId = await createCommand(agent, { timeout_seconds: 1 });
    expect((await wait(agent)).body.item).toMatchObject({ command_id: commandId, attempts: 1 });
    expect((await wait(agent)).body.item).toBeNull(); // still leased
    await withDatabase((db) => db.execute(sql`update commands set lease_expires_at = now() - interval '1 second' where command_id = ${commandId}`));
    expect((await wait(agent)).body.item).toMatchObject({ command_id: commandId, attempts: 2 });
  });

  it('a cancelled command is never delivered, also when the object still says claimable', async () => {
    const agent = await createAgent();
    await warm(agent);
    const commandId = await createCommand(agent);
    const cancelled = await apiWith({}, `/api/v1/commands/${agent.deploymentHash}/${commandId}/cancel`, { method: 'POST', headers: bearerFor('group_user', agent.ownerId) });
    expect(cancelled.status).toBe(200);
    expect((await wait(agent)).body.item).toBeNull();
    expect((await wait(agent)).body.item).toBeNull();
    const [row] = (await withDatabase(async (db) => (await db.execute(sql`select status, attempts from commands where command_id = ${commandId}`)).rows)) as Array<{ status: string; attempts: number }>;
    expect(row).toEqual({ status: 'cancelled', attempts: 0 });
  });

  it('two waits of the same agent at once never get the same command; a claim racing a ring is not lost', async () => {
    const agent = await createAgent();
    await warm(agent);
    const first = wait(agent, {}, 5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const second = wait(agent, {}, 5);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const commandIds = [await createCommand(agent), await createCommand(agent)];
    const answers = await Promise.all([first, second]);
    const got = answers.flatMap((answer) => (answer.body.item ? [answer.body.item.command_id] : []));
    expect(new Set(got).size).toBe(got.length);
    expect(answers.map((answer) => answer.status).sort()).toEqual([200, 409]); // the newer wait ends the older
    // Whatever the waits did not take is taken by the next ones, each once.
    for (let i = 0; i < 3 && got.length < 2; i++) {
      const next = (await wait(agent)).body.item;
      if (next) got.push(next.command_id);
    }
    expect(got.sort()).toEqual([...commandIds].sort());
    const rows = (await withDatabase(async (db) => (await db.execute(sql`select attempts from commands where deployment_hash = ${agent.deploymentHash}`)).rows)) as Array<{ attempts: number }>;
    expect(rows.map((row) => row.attempts)).toEqual([1, 1]);
  });

  it('claimedNothing with a version older than a ring keeps the deployment claimable', async () => {
    const agent = await createAgent();
    const object = stub(agent.deploymentHash);
    await object.reset();
    const before = (await object.inspect()).version;
    await apiWith({}, '/api/v1/commands', jsonRequest('POST', { deployment_hash: agent.deploymentHash, command_type: 'health', parameters: { app_code: 'web' } }, bearerFor('group_user', agent.ownerId)));
    await object.claimedNothing(before); // a claim that began before the ring found nothing
    const state = await object.inspect();
    expect(state.version).toBeGreaterThan(before);
    expect(state.cleared).toBeLessThan(state.version);
  });
});
