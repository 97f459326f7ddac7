// Servers the built-in engine creates in the user's cloud (Hetzner Cloud, DigitalOcean) with their
// saved key: the choice checked against the provider's offers before anything is written, the
// `server` step (create once, wait with backoff until it runs, record its address), and the
// deletion of a server nobody needs any more (its deployment failed or was cancelled before the
// stack ran, or the deployment is removed). Provider calls never sleep here: a wait is the step's
// wake time, so a 429's Retry-After, a 5xx or no answer is looked at again by the object's alarm.
// The cloud token is only in the adapter's Authorization header; the user data holds the install
// command (its one-time secret), never a token.
import { and, desc, eq, gt, inArray, isNull, notExists, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../../db/client.ts';
import { agentEnrollment, cloud, deployment, deploymentOperation, project, server, type Server } from '../../../db/schema.ts';
import { ApiError } from '../../errors.ts';
import {
  CloudProviderError,
  cloudErrorAsApiError,
  cloudProviderFor,
  isCloudProviderCode,
  serverNameFor,
  whatIsNotOffered,
  type CloudProvider,
  type CloudProviderSettings,
  type CloudServer,
  type ServerChoice,
} from '../cloud-providers/index.ts';
import { cloudProviderOf } from '../clouds.ts';
import { decryptSecret } from '../crypto.ts';
import { appendEvents, type NewEvent } from '../deployment-events.ts';
import type { ServerInput } from '../servers.ts';
import { cloudInitUserData } from './cloud-init.ts';
import { changeOperation, fail, minutes, moveTo, type Context, type EngineDeps, type StepOutcome } from './engine.ts';
import { installCommandOf } from './install-script.ts';

/** What the engine needs for servers in the user's cloud (engineDepsFromConfig in engine.ts builds it from the settings). */
export interface CloudEngineDeps {
  serverTimeoutSeconds: number;
  /** DEPLOY_KEEP_FAILED_SERVERS=on: a failed deployment's server is kept, and the event log says so. */
  keepFailedServers: boolean;
  /** The adapter of a saved cloud, with its token in clear; null when the key is gone. */
  providerFor(db: AnyDatabase, cloudId: number): Promise<CloudProvider | null>;
}

/** First look 2 s after the create, then 4, 8, 16, 30, 30 ... s: a 10-minute wait is about 25 calls. */
const FIRST_LOOK_MS = 2_000;
const MAX_LOOK_MS = 30_000;
/** A deletion that failed for a reason that may pass (a 5xx, no answer) is tried again this soon. */
const DELETE_RETRY_MS = 30_000;
/** The cron stops retrying a deletion this long after its deployment ended. */
export const DELETE_RETRY_DAYS = 7;

const FIELDS: Record<keyof ServerChoice, string> = { type: 'server', location: 'region', image: 'os' };

/** The saved cloud's adapter for the engine: no retries inside a call (the engine waits by its wake time). */
export async function savedCloudProvider(db: AnyDatabase, securityKey: Uint8Array, settings: CloudProviderSettings, cloudId: number): Promise<CloudProvider | null> {
  const [row] = await db.select({ provider: cloud.provider, token: cloud.cloudToken }).from(cloud).where(eq(cloud.id, cloudId)).limit(1);
  if (!row?.token || !isCloudProviderCode(row.provider)) return null;
  return cloudProviderFor(row.provider, await decryptSecret(securityKey, row.token), settings, { maxRetries: 0, timeoutMs: 10_000 });
}

export const providerLabel = (code: string) => cloudProviderOf(code)?.label ?? code;

/**
 * The type, location and image of a server to create: each required, and offered by the provider
 * (read with the user's key) before anything is written. A refusal names the field and what is offered.
 */
export async function checkCloudChoice(provider: CloudProvider, input: ServerInput): Promise<ServerChoice> {
  const missing = (['server', 'region', 'os'] as const).filter((field) => !input[field]);
  if (missing.length > 0) {
    throw new ApiError(400, `A new server at ${provider.label} needs its type (server.server), location (server.region) and image (server.os); missing: ${missing.map((field) => `server.${field}`).join(', ')}`, {
      errors: missing.map((field) => ({ path: `body.server.${field}`, message: 'Required for a server Stacker creates' })),
    });
  }
  const choice = { type: input.server!, location: input.region!, image: input.os! };
  try {
    const [types, locations, images] = await Promise.all([provider.listServerTypes(), provider.listLocations(), provider.listImages()]);
    const refused = whatIsNotOffered(provider.label, choice, { types, locations, images });
    if (refused) throw new ApiError(422, refused.message, { errors: [{ path: `body.server.${FIELDS[refused.field]}`, message: refused.message }] });
  } catch (error) {
    if (error instanceof CloudProviderError) throw cloudErrorAsApiError(provider.label, error);
    throw error;
  }
  return choice;
}

// ---- the step ----

/** Creates the server once (a create whose answer was lost is found by its label), then waits until it runs. */
export async function stepServer(context: Context): Promise<StepOutcome> {
  const row = await serverRowOf(context.tx, context.deployment.serverId);
  const cloudId = context.deployment.cloudId;
  const deps = context.deps.cloud;
  if (!deps || !row?.provider || cloudId === null) return fail(context, 'This deployment has no saved cloud key to create its server with');
  const provider = await deps.providerFor(context.tx, cloudId);
  if (!provider) return fail(context, `The saved ${providerLabel(row.provider)} key of this deployment is gone: save it again, then deploy again`);
  const deadline = context.op.stepDeadlineAt;
  const late = !!deadline && context.now >= deadline;
  const timedOut = (status: string) => fail(context, `The server did not start within ${minutes(deps.serverTimeoutSeconds)} (${provider.label} says: ${status})`);
  try {
    let current: CloudServer | null;
    if (!row.providerServerId) {
      if (late) return timedOut('not created');
      current = await createOnce(context, provider, row);
      await context.tx.update(server).set({ providerServerId: current.id, updatedAt: sql`now()` }).where(eq(server.id, row.id));
      context.events.push({ kind: 'progress', status: 'in_progress', progress: 10, subject: 'server', message: `Server ${current.name} created at ${provider.label} (ID ${current.id}): waiting for it to start` });
    } else {
      current = await provider.getServer(row.providerServerId);
      if (!current) return fail(context, `The server ${row.providerServerId} is gone from ${provider.label} (deleted outside Stacker?)`);
    }
    if (current.status === 'running' && current.ipv4) {
      await context.tx.update(server).set({ srvIp: current.ipv4, updatedAt: sql`now()` }).where(eq(server.id, row.id));
      return moveTo(context, 'agent', `Server ${current.name} running at ${current.ipv4}: waiting for its agent to enrol`, { attempt: 0, deadlineSeconds: context.deps.agentTimeoutSeconds });
    }
    if (late) return timedOut(current.providerStatus);
    return lookAgainLater(context);
  } catch (error) {
    if (!(error instanceof CloudProviderError)) throw error;
    if (!error.retryable) return fail(context, cloudErrorAsApiError(provider.label, error).message);
    if (late) return timedOut(error.message);
    if (error.status === 429) {
      const seconds = error.retryAfterSeconds ?? 1;
      context.events.push({ kind: 'progress', status: 'in_progress', progress: 5, subject: 'server', message: `${provider.label} is rate limiting this cloud key: looking again in ${seconds} s` });
      // Counted from the refusal's arrival, not the step's start.
      return lookAgainLater(context, seconds * 1000, context.deps.now?.() ?? new Date());
    }
    return lookAgainLater(context);
  }
}

async function createOnce(context: Context, provider: CloudProvider, row: Server): Promise<CloudServer> {
  const hash = context.deployment.deploymentHash;
  const found = await provider.findServersByDeployment(hash);
  if (found.length > 0) {
    // Two with this deployment's label cannot be made here; should there be, one is kept, not billed twice.
    for (const extra of found.slice(1)) await provider.deleteServer(extra.id);
    return found[0]!;
  }
  const [owner] = await context.tx.select({ name: project.name }).from(project).where(eq(project.id, context.deployment.projectId)).limit(1);
  const installCommand = await installCommandFor(context);
  return provider.createServer({
    name: serverNameFor(owner?.name ?? 'stacker', hash),
    type: row.server ?? '',
    location: row.region ?? '',
    image: row.os ?? '',
    userData: cloudInitUserData({ installCommand, sshAuthorizedKeys: row.sshPublicKey ? [row.sshPublicKey] : [] }),
    deployment: hash,
  });
}

/** The install command of the deployment's current enrollment secret, for the server's user data. */
async function installCommandFor(context: Context): Promise<string> {
  const [enrollment] = await context.tx
    .select({ sealed: agentEnrollment.sealedSecret })
    .from(agentEnrollment)
    .where(and(eq(agentEnrollment.deploymentId, context.deployment.id), isNull(agentEnrollment.usedAt), isNull(agentEnrollment.replacedAt)))
    .orderBy(desc(agentEnrollment.createdAt))
    .limit(1);
  if (!enrollment || !context.deployment.publicOrigin) throw new Error(`deployment ${context.deployment.id} has no install command for its server`);
  return installCommandOf(context.deployment.publicOrigin, await decryptSecret(context.deps.securityKey, enrollment.sealed));
}

/** Waits 2, 4, 8 ... 30 s (the operation's attempt counts), or as long as the provider asked. */
async function lookAgainLater(context: Context, waitMs?: number, from = context.now): Promise<StepOutcome> {
  const attempt = context.op.attempt;
  const wait = waitMs ?? Math.min(FIRST_LOOK_MS * 2 ** attempt, MAX_LOOK_MS);
  changeOperation(context, { attempt: attempt + 1 });
  const at = new Date(from.getTime() + wait);
  const deadline = context.op.stepDeadlineAt;
  return { kind: 'wait', wakeAt: deadline && deadline < at ? deadline : at };
}

// ---- deletion ----

type Deletion = { kind: 'done'; event?: NewEvent } | { kind: 'retry'; wakeAt: Date; message: string } | { kind: 'refused'; message: string };

/** Deletes the deployment's server at its provider (by ID, or by its label when the create's answer was lost). */
async function deleteServerOf(db: AnyDatabase, deps: CloudEngineDeps, target: { cloudId: number | null; deploymentHash: string }, row: Server, now: Date): Promise<Deletion> {
  const label = providerLabel(row.provider ?? '');
  const provider = target.cloudId === null ? null : await deps.providerFor(db, target.cloudId);
  const where = row.providerServerId ? `${row.srvIp ? ` at ${row.srvIp}` : ''} (${label} ID ${row.providerServerId})` : '';
  if (!provider) return { kind: 'refused', message: `Cannot delete the server${where}: the saved ${label} key is gone. Delete it in the ${label} console` };
  try {
    const ids = row.providerServerId ? [row.providerServerId] : (await provider.findServersByDeployment(target.deploymentHash)).map((entry) => entry.id);
    for (const id of ids) await provider.deleteServer(id);
    await db.update(server).set({ deletedAt: now, deleteError: null, updatedAt: sql`now()` }).where(eq(server.id, row.id));
    if (ids.length === 0) return { kind: 'done' };
    return { kind: 'done', event: serverEvent('deleted', `Server${where || ` ${ids.join(', ')}`} deleted at ${label}`) };
  } catch (error) {
    if (!(error instanceof CloudProviderError)) throw error;
    const message = `Deleting the server${where} failed: ${cloudErrorAsApiError(label, error).message}`;
    if (!error.retryable) return { kind: 'refused', message };
    return { kind: 'retry', wakeAt: new Date(now.getTime() + Math.max((error.retryAfterSeconds ?? 0) * 1000, DELETE_RETRY_MS)), message };
  }
}

const serverEvent = (status: string, message: string): NewEvent => ({ kind: 'server', status, subject: 'server', message });

/**
 * The remove operation, once the stack is down: deletes the server Stacker created for the
 * deployment. undefined when done (or there is none); otherwise how the step goes on.
 */
export async function removeCloudServer(context: Context): Promise<StepOutcome | undefined> {
  const row = await serverRowOf(context.tx, context.deployment.serverId, true);
  if (!row?.provider || row.deletedAt || !context.deps.cloud) return undefined;
  const deletion = await deleteServerOf(context.tx, context.deps.cloud, context.deployment, row, context.now);
  if (deletion.kind === 'done') {
    if (deletion.event) context.events.push(deletion.event);
    return undefined;
  }
  if (deletion.kind === 'refused') return fail(context, deletion.message);
  if (row.deleteError !== deletion.message) {
    await context.tx.update(server).set({ deleteError: deletion.message }).where(eq(server.id, row.id));
    context.events.push(serverEvent('delete_failed', `${deletion.message}; trying again`));
  }
  return { kind: 'wait', wakeAt: deletion.wakeAt };
}

const UNRUN_STATUSES = ['failed', 'cancelled', 'timed_out'];

/**
 * After an operation ended: the server Stacker created for a deployment that failed, timed out or
 * was cancelled before its stack ever ran is deleted (or kept, with DEPLOY_KEEP_FAILED_SERVERS=on).
 * A deletion that failed is tried again (the wake time, and the cron's sweep).
 */
export async function cleanUpCloudServer(deps: EngineDeps, deploymentId: number): Promise<{ wakeAt: Date | null; wroteEvents: boolean }> {
  const nothing = { wakeAt: null, wroteEvents: false };
  const cloudDeps = deps.cloud;
  if (!cloudDeps) return nothing;
  const now = deps.now?.() ?? new Date();
  return deps.db.transaction(async (tx) => {
    const [target] = await tx.select().from(deployment).where(eq(deployment.id, deploymentId)).limit(1);
    if (!target || target.currentRevision !== null || !UNRUN_STATUSES.includes(target.status)) return nothing;
    const row = await serverRowOf(tx, target.serverId, true);
    if (!row?.provider || row.deletedAt || row.keptAt) return nothing;
    const [running] = await tx
      .select({ id: deploymentOperation.id })
      .from(deploymentOperation)
      .where(and(eq(deploymentOperation.deploymentId, deploymentId), eq(deploymentOperation.status, 'running')))
      .limit(1);
    if (running) return nothing;
    const events: NewEvent[] = [];
    let wakeAt: Date | null = null;
    if (cloudDeps.keepFailedServers) {
      await tx.update(server).set({ keptAt: now }).where(eq(server.id, row.id));
      const where = row.providerServerId ? ` (${providerLabel(row.provider)} ID ${row.providerServerId}${row.srvIp ? `, ${row.srvIp}` : ''})` : '';
      events.push(serverEvent('kept', `The server${where} is kept for debugging (DEPLOY_KEEP_FAILED_SERVERS=on): it is billed until you delete it, or remove this deployment`));
    } else {
      const deletion = await deleteServerOf(tx, cloudDeps, target, row, now);
      if (deletion.kind === 'done') {
        if (deletion.event) events.push(deletion.event);
      } else {
        if (deletion.kind === 'retry') wakeAt = deletion.wakeAt;
        if (row.deleteError !== deletion.message) {
          await tx.update(server).set({ deleteError: deletion.message }).where(eq(server.id, row.id));
          events.push(serverEvent('delete_failed', `${deletion.message}; Stacker tries again`));
        }
      }
    }
    if (events.length > 0) await appendEvents(tx, deploymentId, events);
    return { wakeAt, wroteEvents: events.length > 0 };
  });
}

/** Deployments whose created server still waits to be deleted (the cron wakes their objects). */
export async function pendingServerDeletions(db: AnyDatabase): Promise<Array<{ deploymentId: number; deploymentHash: string }>> {
  return db
    .select({ deploymentId: deployment.id, deploymentHash: deployment.deploymentHash })
    .from(deployment)
    .innerJoin(server, eq(server.id, deployment.serverId))
    .where(
      and(
        sql`${server.provider} is not null`,
        isNull(server.deletedAt),
        isNull(server.keptAt),
        isNull(deployment.currentRevision),
        inArray(deployment.status, UNRUN_STATUSES),
        gt(deployment.updatedAt, sql`now() - make_interval(days => ${DELETE_RETRY_DAYS})`),
        notExists(
          db
            .select({ id: deploymentOperation.id })
            .from(deploymentOperation)
            .where(and(eq(deploymentOperation.deploymentId, deployment.id), eq(deploymentOperation.status, 'running'))),
        ),
      ),
    )
    .limit(500);
}

async function serverRowOf(db: AnyDatabase, serverId: number | null, lock = false): Promise<Server | undefined> {
  if (serverId === null) return undefined;
  const query = db.select().from(server).where(eq(server.id, serverId)).limit(1);
  const [row] = lock ? await query.for('update') : await query;
  return row;
}
