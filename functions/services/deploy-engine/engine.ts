// The built-in deploy engine: one operation at a time per deployment (deploy, redeploy, rollback,
// remove), advanced step by step. Postgres holds the record; `advanceDeployment` reads it under a
// row lock, does what the current step needs (queue the agent's command once, read its report,
// check a deadline), and says when to look again. The deployment's Durable Object calls it when
// something happened (a report, an enrollment, a user's action) and on its alarm; the cron calls it
// for operations whose wake time has long passed, so a lost wake-up delays a step, never stops it.
//
// Steps:  server (first deploy to htz/do: create the server in the user's cloud, wait until it runs; cloud-server.ts)
//      -> agent (first deploy: wait for the install command's enrollment)
//      -> apply (deploy_app with the revision's compose and its secrets as env_vars)
//      -> health (health "all" until every service runs, or the health deadline)
//      -> done; a failed update goes to rollback (deploy_app of the last good revision).
//         remove: remove_app for every service, then delete a server Stacker created.
import { and, eq, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../../db/client.ts';
import { agents, commands, deployment, deploymentOperation, deploymentRevision, server, type Command, type Deployment, type DeploymentOperation, type DeploymentRevision } from '../../../db/schema.ts';
import { decryptSecret } from '../crypto.ts';
import { requireSetting, type Config } from '../../config.ts';
import { cleanUpCloudServer, removeCloudServer, savedCloudProvider, stepServer, type CloudEngineDeps } from './cloud-server.ts';
import { appendEvents, type NewEvent } from '../deployment-events.ts';
import { afterLease, commandByKey, commandKey, ensureCommand, readCommands } from './engine-commands.ts';
import { composeProjectName, describeUnhealthy, servicesHealth } from './health.ts';
import { addressesOf } from './revisions.ts';
import { ENGINE_CREATOR, commandError, earliest, succeededWithWarnings, withdrawQueuedCommands } from './runs.ts';

export const HEALTH_RETRY_MS = 5_000;
const APPLY_TIMEOUT_SECONDS = 600;
const HEALTH_COMMAND_TIMEOUT_SECONDS = 60;
const REMOVE_TIMEOUT_SECONDS = 120;
/** A step can move on at once several times in one call (e.g. agent -> apply); this bounds the loop. */
const MAX_TRANSITIONS = 8;

export type OperationKind = 'deploy' | 'redeploy' | 'rollback' | 'remove';
export type EngineStep = 'server' | 'agent' | 'apply' | 'health' | 'rollback' | 'remove';

export interface EngineDeps {
  db: AnyDatabase;
  securityKey: Uint8Array;
  agentTimeoutSeconds: number;
  healthTimeoutSeconds: number;
  /** Servers in the user's cloud (htz, do); without it such a deployment fails. */
  cloud?: CloudEngineDeps;
  now?: () => Date;
}

/** The engine's dependencies from the settings, on `db` (the object's own connection, or a request's). */
export function engineDepsFromConfig(config: Config, db: AnyDatabase): EngineDeps {
  const securityKey = requireSetting(config, 'SECURITY_KEY');
  return {
    db,
    securityKey,
    agentTimeoutSeconds: config.DEPLOY_AGENT_TIMEOUT_SECONDS,
    healthTimeoutSeconds: config.DEPLOY_HEALTH_TIMEOUT_SECONDS,
    cloud: {
      serverTimeoutSeconds: config.DEPLOY_SERVER_TIMEOUT_SECONDS,
      keepFailedServers: config.DEPLOY_KEEP_FAILED_SERVERS === 'on',
      providerFor: (cloudDb, cloudId) => savedCloudProvider(cloudDb, securityKey, config, cloudId),
    },
  };
}

export interface AdvanceResult {
  /** When to call again if nothing happens sooner; null once no operation runs. */
  wakeAt: Date | null;
  /** Commands were queued: the agent's wait should be rung. */
  queuedCommands: boolean;
  /** Events were written: the deployment's readers should be rung. */
  wroteEvents: boolean;
  deploymentHash?: string;
}

/**
 * The checklist of a built-in deployment (the subjects of the engine's progress events): the server
 * enrolled, its agent took the stack, the stack applied, every service healthy. An item's own event
 * says `in_progress`, then `done`; an operation's last event carries the deployment's new status
 * (completed, failed or removed).
 */
export const CHECKLIST = ['server', 'agent', 'stack', 'healthy'] as const;
export type ChecklistItem = (typeof CHECKLIST)[number];
const CHECKLIST_OF_STEP: Record<EngineStep, ChecklistItem> = { server: 'server', agent: 'server', apply: 'agent', health: 'healthy', rollback: 'stack', remove: 'stack' };
const PROGRESS_OF_STEP: Record<EngineStep, number> = { server: 5, agent: 10, apply: 40, health: 70, rollback: 80, remove: 50 };

type Tx = AnyDatabase;

export interface Context {
  tx: Tx;
  deps: EngineDeps;
  now: Date;
  op: DeploymentOperation;
  deployment: Deployment;
  events: NewEvent[];
  queued: boolean;
  /** What this call has read (by idempotency key; null: none queued) and the revisions it read. */
  commandsRead: Map<string, Command | null>;
  revisionsRead: Map<number, DeploymentRevision>;
  /** Changes to the operation's and the deployment's rows, written once when the call ends. */
  operationChanges: OperationChanges;
  deploymentChanges: DeploymentChanges;
}

type OperationChanges = Partial<Pick<DeploymentOperation, 'step' | 'attempt' | 'stepStartedAt' | 'stepDeadlineAt' | 'status' | 'endedAt' | 'failure' | 'rollbackTo'>>;
type DeploymentChanges = Partial<Pick<Deployment, 'status' | 'progress' | 'message' | 'currentRevision'>>;

export type StepOutcome = { kind: 'wait'; wakeAt: Date | null } | { kind: 'moved' } | { kind: 'ended' };

export async function advanceDeployment(deps: EngineDeps, deploymentId: number): Promise<AdvanceResult> {
  const result = await advanceOperation(deps, deploymentId);
  if (result.running) return result;
  // No operation runs: a server created for a deployment that never ran its stack is not left billed.
  const cleaned = await cleanUpCloudServer(deps, deploymentId);
  return { ...result, wakeAt: cleaned.wakeAt, wroteEvents: result.wroteEvents || cleaned.wroteEvents };
}

async function advanceOperation(deps: EngineDeps, deploymentId: number): Promise<AdvanceResult & { running: boolean }> {
  const now = deps.now?.() ?? new Date();
  return deps.db.transaction(async (tx) => {
    // The running operation's row, locked (one step at a time), with its deployment.
    const [row] = await tx
      .select({ op: deploymentOperation, deployment })
      .from(deploymentOperation)
      .innerJoin(deployment, eq(deployment.id, deploymentOperation.deploymentId))
      .where(and(eq(deploymentOperation.deploymentId, deploymentId), eq(deploymentOperation.status, 'running')))
      .limit(1)
      .for('update', { of: deploymentOperation });
    const idle = { wakeAt: null, queuedCommands: false, wroteEvents: false, running: false };
    if (!row) return idle;
    const { op, deployment: current } = row;
    const context: Context = { tx, deps, now, op, deployment: current, events: [], queued: false, commandsRead: new Map(), revisionsRead: new Map(), operationChanges: {}, deploymentChanges: {} };
    let wakeAt: Date | null = null;
    for (let transitions = 0; transitions < MAX_TRANSITIONS; transitions++) {
      const outcome = await runStep(context);
      if (outcome.kind === 'wait') {
        wakeAt = outcome.wakeAt;
        break;
      }
      if (outcome.kind === 'ended') break;
    }
    await tx.update(deploymentOperation).set({ ...context.operationChanges, wakeAt }).where(eq(deploymentOperation.id, context.op.id));
    const deploymentChanges = Object.keys(context.deploymentChanges).length > 0 ? { ...context.deploymentChanges, updatedAt: sql`now()` } : undefined;
    if (context.events.length > 0) await appendEvents(tx, deploymentId, context.events, deploymentChanges);
    else if (deploymentChanges) await tx.update(deployment).set(deploymentChanges).where(eq(deployment.id, deploymentId));
    return { wakeAt, queuedCommands: context.queued, wroteEvents: context.events.length > 0, deploymentHash: current.deploymentHash, running: context.op.status === 'running' };
  });
}

async function runStep(context: Context): Promise<StepOutcome> {
  switch (context.op.step as EngineStep) {
    case 'server':
      return stepServer(context);
    case 'agent':
      return stepAgent(context);
    case 'apply':
      return stepApply(context);
    case 'health':
      return stepHealth(context);
    case 'rollback':
      return stepRollback(context);
    case 'remove':
      return stepRemove(context);
    default:
      return fail(context, `unknown step ${context.op.step}`);
  }
}

// ---- steps ----

async function stepAgent(context: Context): Promise<StepOutcome> {
  if (await agentOf(context)) {
    context.events.push(progressEvent('server', 'done', 'Server enrolled: its agent is starting', 20));
    return moveTo(context, 'apply', `Waiting for the agent to apply revision ${context.op.revision}`);
  }
  const deadline = context.op.stepDeadlineAt;
  if (deadline && context.now >= deadline) {
    return fail(context, `The agent did not come online within ${minutes(context.deps.agentTimeoutSeconds)}: run the install command on the server (the deployment page offers a new one)`);
  }
  return { kind: 'wait', wakeAt: deadline };
}

async function stepApply(context: Context): Promise<StepOutcome> {
  const revision = await revisionOf(context, context.op.revision!);
  const applied = await applyRevision(context, 'apply', revision);
  if (applied.kind === 'pending') return applied.outcome;
  if (applied.kind === 'failed') return failUpdate(context, `deploy_app of revision ${revision.revision} failed: ${applied.reason}`);
  const dropped = await removeDropped(context, 'apply', context.deployment.currentRevision, revision);
  if (dropped.kind === 'pending') return dropped.outcome;
  if (context.op.kind === 'deploy') context.events.push(progressEvent('agent', 'done', 'The agent is online and took the stack', 50));
  context.events.push(progressEvent('stack', 'done', `Revision ${revision.revision} applied (${namesOf(revision).join(', ')})${dropped.said}`, 60));
  const moved = await moveTo(context, 'health', 'Checking that every service runs', { attempt: 1, deadlineSeconds: context.deps.healthTimeoutSeconds });
  // An operation comes to health once, in the call that moves it there: its first check is not queued yet.
  context.commandsRead.set(commandKey(context, 'health:1'), null);
  return moved;
}

type ServicesOutcome = { kind: 'pending'; outcome: StepOutcome } | { kind: 'failed'; reason: string } | { kind: 'done' };

/**
 * The real agent's deploy_app starts one service (`docker compose up -d <app_code>`; an empty
 * app_code is refused), so a revision is one deploy_app per service, each with the whole compose.
 * The agent takes them in the order they were queued.
 */
function applyRevision(context: Context, step: string, revision: DeploymentRevision): Promise<ServicesOutcome> {
  return perService(context, step, namesOf(revision), 'deploy_app', APPLY_TIMEOUT_SECONDS, async (service) => ({ ...(await deployParameters(context, revision)), app_code: service }));
}

const namesOf = (revision: DeploymentRevision) => revision.services.map((service) => service.name);
const removeParameters = async (service: string) => ({ app_code: service, delete_config: false, remove_volumes: false });

/**
 * The services of the revision that ran (`from`) which `to` does not have: deploy_app only starts
 * services, so each of these gets a remove_app. A removal that fails is said, not fatal: the
 * revision itself is applied.
 */
async function removeDropped(context: Context, step: string, from: number | null, to: DeploymentRevision): Promise<{ kind: 'pending'; outcome: StepOutcome } | { kind: 'done'; said: string }> {
  if (from === null || from === to.revision) return { kind: 'done', said: '' };
  const kept = new Set(namesOf(to));
  const dropped = namesOf(await revisionOf(context, from)).filter((name) => !kept.has(name));
  if (dropped.length === 0) return { kind: 'done', said: '' };
  const removed = await perService(context, `${step}:drop`, dropped, 'remove_app', REMOVE_TIMEOUT_SECONDS, removeParameters);
  if (removed.kind === 'pending') return removed;
  const which = dropped.join(', ');
  return { kind: 'done', said: removed.kind === 'failed' ? `; removing ${which}, which it does not have, failed: ${removed.reason}` : `; ${which}, which it does not have, stopped and deleted` };
}

async function perService(
  context: Context,
  step: string,
  services: string[],
  type: string,
  timeoutSeconds: number,
  parameters: (service: string) => Promise<Record<string, unknown>>,
): Promise<ServicesOutcome> {
  await readCommands(context, services.map((service) => `${step}:${service}`));
  const queued: Command[] = [];
  for (const service of services) {
    queued.push(await ensureCommand(context, `${step}:${service}`, type, () => parameters(service), timeoutSeconds));
  }
  const failed = queued.map((command, index) => ({ command, service: services[index]! })).filter((entry) => ['failed', 'expired', 'cancelled'].includes(entry.command.status) && !succeededWithWarnings(entry.command));
  if (failed.length > 0) return { kind: 'failed', reason: failed.map((entry) => `${entry.service}: ${commandError(entry.command)}`).join('; ') };
  for (const command of queued) {
    const waiting = await awaitCommand(context, command);
    if (waiting) return { kind: 'pending', outcome: waiting };
  }
  return { kind: 'done' };
}

async function stepHealth(context: Context): Promise<StepOutcome> {
  const revision = await revisionOf(context, context.op.revision!);
  const deadline = context.op.stepDeadlineAt;
  const retryAt = context.op.wakeAt;
  // Between attempts: the next health command is queued only once its time has come.
  if (!(await commandByKey(context, `health:${context.op.attempt}`)) && retryAt && context.now < retryAt && context.op.attempt > 1) {
    return { kind: 'wait', wakeAt: retryAt };
  }
  const command = await ensureCommand(context, `health:${context.op.attempt}`, 'health', { app_code: 'all', include_metrics: false }, HEALTH_COMMAND_TIMEOUT_SECONDS);
  if (command.status === 'queued' || command.status === 'sent' || command.status === 'executing') {
    if (deadline && context.now >= deadline) return failUpdate(context, `The stack did not become healthy within ${minutes(context.deps.healthTimeoutSeconds)}: the agent did not answer the health check`);
    return { kind: 'wait', wakeAt: earliest(deadline, afterLease(context, command)) };
  }
  const health = command.status === 'completed' || succeededWithWarnings(command) ? servicesHealth(command.result, revision.services.map((service) => service.name), composeProjectName(context.deployment.deploymentHash)) : undefined;
  if (health && health.every((entry) => entry.ok)) return succeed(context, revision);
  const problem = health ? `not running: ${describeUnhealthy(health)}` : `the health check failed: ${commandError(command)}`;
  const next = new Date(context.now.getTime() + HEALTH_RETRY_MS);
  if (deadline && next >= deadline) {
    return failUpdate(context, `Revision ${revision.revision} did not become healthy within ${minutes(context.deps.healthTimeoutSeconds)} (${problem})`);
  }
  changeOperation(context, { attempt: context.op.attempt + 1 });
  context.op = { ...context.op, wakeAt: next };
  if (context.op.attempt === 2 || context.op.attempt % 6 === 0) {
    context.events.push(progressEvent('healthy', 'in_progress', `Waiting for the services (${problem})`, PROGRESS_OF_STEP.health));
  }
  return { kind: 'wait', wakeAt: next };
}

async function stepRollback(context: Context): Promise<StepOutcome> {
  const good = await revisionOf(context, context.op.rollbackTo!);
  const applied = await applyRevision(context, `rollback-r${good.revision}`, good);
  if (applied.kind === 'pending') return applied.outcome;
  const failure = context.op.failure ?? 'The update failed';
  if (applied.kind === 'failed') return end(context, 'failed', `${failure}. The rollback to revision ${good.revision} failed too: ${applied.reason}`);
  // What the broken revision added goes too.
  const dropped = await removeDropped(context, `rollback-r${good.revision}`, context.op.revision, good);
  if (dropped.kind === 'pending') return dropped.outcome;
  return end(context, 'failed', `${failure}. Rolled back to revision ${good.revision}, which is running again${dropped.said}.`);
}

async function stepRemove(context: Context): Promise<StepOutcome> {
  const agent = await agentOf(context);
  const revisionNumber = context.deployment.currentRevision ?? context.op.revision;
  if (!agent || revisionNumber === null) return endRemoved(context, agent ? 'Removed: nothing was running' : 'Removed: no agent had enrolled, so nothing was running');
  const revision = await revisionOf(context, revisionNumber);
  // delete_config would delete the compose file the services share (and v0.2.1 then reports a Vault
  // error, which reads as a failure): the containers go, the file stays.
  const removed = await perService(context, 'remove', namesOf(revision), 'remove_app', REMOVE_TIMEOUT_SECONDS, removeParameters);
  if (removed.kind === 'pending') return removed.outcome;
  if (removed.kind === 'failed') return fail(context, `Removing the stack failed: ${removed.reason}`);
  return endRemoved(context, `Removed: ${revision.services.map((service) => service.name).join(', ')} stopped and deleted on the server`);
}

/** The stack is down: a server Stacker created goes too (its deletion retried until it is gone), then removed. */
async function endRemoved(context: Context, message: string): Promise<StepOutcome> {
  return (await removeCloudServer(context)) ?? end(context, 'removed', message);
}

// ---- transitions ----

export async function moveTo(context: Context, step: EngineStep, message: string, options: { attempt?: number; deadlineSeconds?: number } = {}): Promise<StepOutcome> {
  const stepDeadlineAt = options.deadlineSeconds !== undefined ? new Date(context.now.getTime() + options.deadlineSeconds * 1000) : context.op.stepDeadlineAt;
  changeOperation(context, { step, attempt: options.attempt ?? context.op.attempt, stepStartedAt: context.now, stepDeadlineAt });
  context.events.push(progressEvent(CHECKLIST_OF_STEP[step], 'in_progress', message, PROGRESS_OF_STEP[step]));
  setDeployment(context, { status: 'in_progress', progress: PROGRESS_OF_STEP[step], message });
  return { kind: 'moved' };
}

async function succeed(context: Context, revision: DeploymentRevision): Promise<StepOutcome> {
  const { tx } = context;
  await tx
    .update(deploymentRevision)
    .set({ status: 'superseded' })
    .where(and(eq(deploymentRevision.deploymentId, context.deployment.id), eq(deploymentRevision.status, 'running')));
  await tx
    .update(deploymentRevision)
    .set({ status: 'running', appliedAt: context.now, message: null })
    .where(and(eq(deploymentRevision.deploymentId, context.deployment.id), eq(deploymentRevision.revision, revision.revision)));
  changeDeployment(context, { currentRevision: revision.revision });
  const address = await serverAddressOf(context);
  const addresses = addressesOf(revision.services, address).map((entry) => entry.url);
  const where = addresses.length > 0 ? ` at ${addresses.join(', ')}` : '';
  return end(context, 'completed', `Revision ${revision.revision} is running${where}`);
}

/** A failure of the revision being applied: an update goes back to the last good revision. */
async function failUpdate(context: Context, reason: string): Promise<StepOutcome> {
  const revision = context.op.revision!;
  // What the agent has not taken of the broken revision is not applied any more.
  await withdrawQueuedCommands(context.tx, context.deployment.deploymentHash);
  context.commandsRead.clear();
  context.revisionsRead.delete(revision);
  await context.tx
    .update(deploymentRevision)
    .set({ status: 'failed', message: reason.slice(0, 2000) })
    .where(and(eq(deploymentRevision.deploymentId, context.deployment.id), eq(deploymentRevision.revision, revision)));
  const good = context.deployment.currentRevision;
  if (good === null || good === revision) return end(context, 'failed', reason);
  changeOperation(context, { step: 'rollback', failure: reason.slice(0, 2000), rollbackTo: good, stepStartedAt: context.now });
  const message = `${reason}. Rolling back to revision ${good}`;
  context.events.push(progressEvent('stack', 'in_progress', message, PROGRESS_OF_STEP.rollback));
  setDeployment(context, { status: 'in_progress', progress: PROGRESS_OF_STEP.rollback, message });
  return { kind: 'moved' };
}

export function fail(context: Context, reason: string): Promise<StepOutcome> {
  return end(context, 'failed', reason);
}

async function end(context: Context, status: 'completed' | 'failed' | 'removed', message: string): Promise<StepOutcome> {
  const operationStatus = status === 'failed' ? 'failed' : 'completed';
  changeOperation(context, { status: operationStatus, endedAt: context.now, failure: status === 'failed' ? message.slice(0, 2000) : context.op.failure });
  const step = context.op.step as EngineStep;
  // A failed removal leaves the stack as it was: the deployment keeps its status.
  const deploymentStatus = context.op.kind === 'remove' && status === 'failed' ? context.deployment.status : status;
  const done = status === 'completed' || status === 'removed';
  context.events.push(progressEvent(CHECKLIST_OF_STEP[step], deploymentStatus === status ? status : 'failed', message, done ? 100 : PROGRESS_OF_STEP[step]));
  // After a removal no revision runs any more.
  const running = and(eq(deploymentRevision.deploymentId, context.deployment.id), eq(deploymentRevision.status, 'running'));
  if (status === 'removed') await context.tx.update(deploymentRevision).set({ status: 'superseded', message: 'Removed from the server' }).where(running);
  setDeployment(context, { status: deploymentStatus, progress: done ? 100 : undefined, message, ...(status === 'removed' && { currentRevision: null }) });
  return { kind: 'ended' };
}

function setDeployment(context: Context, values: { status: string; progress?: number; message: string; currentRevision?: null }): void {
  const { progress, ...rest } = values;
  changeDeployment(context, { ...rest, ...(progress !== undefined && { progress }), message: values.message.slice(0, 4000) });
}

/** The operation's row as the step leaves it: written once, with its wake time, when the call ends. */
export function changeOperation(context: Context, values: OperationChanges): void {
  context.op = { ...context.op, ...values };
  Object.assign(context.operationChanges, values);
}

/** The deployment's row as the step leaves it: written once, with the events, when the call ends. */
function changeDeployment(context: Context, values: DeploymentChanges): void {
  context.deployment = { ...context.deployment, ...values };
  Object.assign(context.deploymentChanges, values);
}

function progressEvent(item: ChecklistItem, status: string, message: string, progress: number): NewEvent {
  return { kind: 'progress', status, progress, subject: item, message };
}

// ---- commands ----

/** While the agent has not finished the command: wait for its report (or give up at the agent's deadline). */
async function awaitCommand(context: Context, command: Command): Promise<StepOutcome | undefined> {
  if (command.status === 'queued') {
    // Nobody took it: the agent is offline. It gets the agent's deadline, counted from the step's start.
    const deadline = new Date(context.op.stepStartedAt.getTime() + context.deps.agentTimeoutSeconds * 1000);
    if (context.now < deadline) return { kind: 'wait', wakeAt: deadline };
    await context.tx.update(commands).set({ status: 'cancelled', updatedAt: sql`now()` }).where(and(eq(commands.id, command.id), eq(commands.status, 'queued')));
    return fail(context, `The agent did not take ${command.type} within ${minutes(context.deps.agentTimeoutSeconds)}: it is offline (is the server on, and its agent container running?)`);
  }
  if (command.status === 'sent' || command.status === 'executing') {
    return { kind: 'wait', wakeAt: afterLease(context, command) };
  }
  return undefined;
}

// ---- reads ----

async function revisionOf(context: Context, revision: number): Promise<DeploymentRevision> {
  const read = context.revisionsRead.get(revision);
  if (read) return read;
  const [row] = await context.tx
    .select()
    .from(deploymentRevision)
    .where(and(eq(deploymentRevision.deploymentId, context.deployment.id), eq(deploymentRevision.revision, revision)))
    .limit(1);
  if (!row) throw new Error(`deployment ${context.deployment.id} has no revision ${revision}`);
  context.revisionsRead.set(revision, row);
  return row;
}

async function deployParameters(context: Context, revision: DeploymentRevision): Promise<Record<string, unknown>> {
  const env = JSON.parse(await decryptSecret(context.deps.securityKey, revision.sealedEnv)) as Record<string, string>;
  return { app_code: '', compose_content: revision.compose, env_vars: env, pull: true, force_recreate: false };
}

async function agentOf(context: Context) {
  const [agent] = await context.tx.select({ id: agents.id }).from(agents).where(eq(agents.deploymentHash, context.deployment.deploymentHash)).limit(1);
  return agent;
}

async function serverAddressOf(context: Context): Promise<string | null> {
  if (context.deployment.serverId === null) return null;
  const [row] = await context.tx.select({ address: server.srvIp }).from(server).where(eq(server.id, context.deployment.serverId)).limit(1);
  return row?.address ?? null;
}

export const minutes = (seconds: number) => (seconds % 60 === 0 ? `${seconds / 60} min` : `${seconds} s`);
