// Deployments: start one (deployment + outbox row in one transaction), follow its progress
// (webhooks), cancel it, and make sure it always ends (the deadline watchdog).
import { and, asc, desc, eq, inArray, lt, notInArray, sql } from 'drizzle-orm';
import { brotliCompressSync, constants as zlibConstants } from 'node:zlib';
import { databaseErrorCode, type AnyDatabase } from '../../db/client.ts';
import { deployOutbox, deployment, project, server, webhookReceipt, type Deployment } from '../../db/schema.ts';
import { ApiError, conflict, notFound } from '../errors.ts';
import { cloudCredentials, createCloud, type CloudCredentials, type CloudInput } from './clouds.ts';
import { verifyImages, type DockerHubDeps } from './dockerhub.ts';
import { openDockerHubPasswords } from './dockerhub-passwords.ts';
import { outboxRow } from './outbox.ts';
import { composeOfStored, findProject, imagesOf } from './projects.ts';
import { composeWithSecrets } from './project-secrets.ts';
import { appendEvents, durationBetween } from './deployment-events.ts';
import { BODY_RECEIPT_WINDOW_SECONDS } from './install-webhook.ts';
import { withinScope, type Scope } from './scope.ts';
import type { ServerInput } from './servers.ts';

export const TERMINAL_STATUSES = ['completed', 'failed', 'error', 'cancelled', 'timed_out', 'removed'] as const;
/** What the install service may report (the reference listener's list, plus cancelled). */
export const REPORTED_STATUSES = ['in_progress', 'paused', 'wait_resume', 'wait_start', 'confirmed', 'completed', 'failed', 'error', 'cancelled'] as const;
export type DeploymentStatus = 'pending' | (typeof REPORTED_STATUSES)[number] | 'timed_out' | 'removed';

export const isTerminal = (status: string) => (TERMINAL_STATUSES as readonly string[]).includes(status);

export interface StackInput {
  stack_code?: string | null;
  vars?: unknown[] | null;
  integrated_features?: unknown[] | null;
  extended_features?: unknown[] | null;
  subscriptions?: string[] | null;
  form_app?: string[] | null;
}

export interface DeployInput {
  stack: StackInput;
  server: ServerInput;
  cloud?: CloudInput;
}

export interface DeployDeps {
  db: AnyDatabase;
  securityKey: Uint8Array;
  dockerHub: DockerHubDeps;
  deadlineMinutes: number;
  /** Where the install service should post progress (POST /webhooks/install of this service). */
  progressUrl: string;
}

export interface DeploymentView {
  id: number;
  project_id: number;
  deployment_hash: string;
  status: string;
  progress: number | null;
  message: string | null;
  created_at: string;
  updated_at: string;
  deadline_at: string | null;
}

export function toDeploymentView(row: Deployment): DeploymentView {
  return {
    id: row.id,
    project_id: row.projectId,
    deployment_hash: row.deploymentHash,
    status: row.status,
    progress: row.progress,
    message: row.message,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    deadline_at: row.deadlineAt?.toISOString() ?? null,
  };
}

/** Compose YAML as the install service expects it: brotli (quality 11, window 22), one number per byte. */
export function compressCompose(yaml: string): number[] {
  const compressed = brotliCompressSync(new TextEncoder().encode(yaml), {
    params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 11, [zlibConstants.BROTLI_PARAM_LGWIN]: 22 },
  });
  return Array.from(compressed);
}

export const routingFor = (provider: string) => (provider.includes('own') ? 'own' : 'tfa');

interface JobParts {
  deploymentId: number;
  deploymentHash: string;
  projectId: number;
  user: { id: string; email: string };
  cloud: CloudCredentials & { saveToken: boolean | null };
  server: ServerInput;
  stack: StackInput;
  custom: unknown;
  composeYaml: string;
  progressUrl: string;
}

/** The reference's install message (§4.5), key for key, plus what the port adds at the end. */
export function buildDeployJob(parts: JobParts): Record<string, unknown> {
  return {
    id: parts.deploymentId,
    project_id: parts.projectId,
    user_token: parts.user.id,
    user_email: parts.user.email,
    user_id: null,
    provider: parts.cloud.provider,
    cloud_token: parts.cloud.cloudToken,
    cloud_key: parts.cloud.cloudKey,
    cloud_secret: parts.cloud.cloudSecret,
    save_token: parts.cloud.saveToken,
    region: parts.server.region ?? null,
    zone: parts.server.zone ?? null,
    server: parts.server.server ?? null,
    os: parts.server.os ?? null,
    disk_type: parts.server.disk_type ?? null,
    srv_ip: parts.server.srv_ip ?? null,
    ssh_port: parts.server.ssh_port ?? null,
    ssh_user: parts.server.ssh_user ?? null,
    stack_code: parts.stack.stack_code ?? null,
    // The reference discards the content of vars; it is kept here (spec §12.14).
    vars: parts.stack.vars ?? [],
    integrated_features: parts.stack.integrated_features ?? [],
    extended_features: parts.stack.extended_features ?? [],
    subscriptions: parts.stack.subscriptions ?? [],
    form_app: parts.stack.form_app ?? [],
    custom: parts.custom,
    docker_compose: compressCompose(parts.composeYaml),
    deployment_id: parts.deploymentId,
    deployment_hash: parts.deploymentHash,
    routing_key: `install.start.${routingFor(parts.cloud.provider)}.all.all`,
    progress_url: parts.progressUrl,
  };
}

export interface StartedDeployment {
  deploymentId: number;
  deploymentHash: string;
  status: string;
  projectId: number;
  /** The job to publish; undefined when an earlier request with the same Idempotency-Key started it. */
  outboxId?: number;
}

export async function startDeployment(
  deps: DeployDeps,
  request: { projectId: number; scope: Scope; user: { id: string; email: string }; input: DeployInput; savedCloudId?: number; idempotencyKey?: string },
): Promise<StartedDeployment> {
  const row = await findProject(deps.db, request.projectId, request.scope);
  const metadata = row.metadata as { custom: unknown };
  const earlier = () => (request.idempotencyKey === undefined ? undefined : deploymentByKey(deps.db, row.id, request.idempotencyKey));
  const already = await earlier();
  if (already) return already;

  let cloud: CloudCredentials & { saveToken: boolean | null };
  if (request.savedCloudId !== undefined) {
    cloud = { ...(await cloudCredentials(deps, request.savedCloudId, request.scope)), saveToken: true };
  } else if (request.input.cloud) {
    const given = request.input.cloud;
    cloud = {
      provider: given.provider,
      cloudToken: given.cloud_token ?? null,
      cloudKey: given.cloud_key ?? null,
      cloudSecret: given.cloud_secret ?? null,
      saveToken: given.save_token ?? false,
    };
  } else {
    throw new ApiError(400, 'cloud is required', { errors: [{ path: 'body.cloud', message: 'Required' }] });
  }

  // The install service's job carries the compose alone: the project's secrets go in it, at the deploy step only.
  const composeYaml = await composeWithSecrets({ db: deps.db, securityKey: deps.securityKey }, row.id, composeOfStored(metadata));
  // Docker Hub passwords are sealed in the metadata: opened for the image check and the install service's job.
  const opened = await openDockerHubPasswords(metadata as never, deps.securityKey);
  await verifyImages(deps.dockerHub, imagesOf(opened));

  const deploymentHash = `deployment_${crypto.randomUUID()}`;
  const started = deps.db.transaction(async (tx) => {
    // One server row per project, reused by every deploy.
    const [existing] = await tx.select().from(server).where(eq(server.projectId, row.id)).orderBy(asc(server.id)).limit(1).for('update');
    const wanted = request.input.server;
    const serverValues = {
      region: wanted.region ?? null,
      zone: wanted.zone ?? null,
      server: wanted.server ?? null,
      os: wanted.os ?? null,
      diskType: wanted.disk_type ?? null,
      srvIp: wanted.srv_ip ?? existing?.srvIp ?? null,
      sshPort: wanted.ssh_port ?? existing?.sshPort ?? null,
      sshUser: wanted.ssh_user ?? existing?.sshUser ?? null,
    };
    if (existing) await tx.update(server).set({ ...serverValues, updatedAt: sql`now()` }).where(eq(server.id, existing.id));
    else await tx.insert(server).values({ ...serverValues, userId: row.userId, projectId: row.id });

    if (request.savedCloudId === undefined && request.input.cloud?.save_token) {
      await createCloud({ db: tx, securityKey: deps.securityKey }, row.userId, request.input.cloud);
    }

    const [created] = await tx
      .insert(deployment)
      .values({
        projectId: row.id,
        metadata: row.metadata,
        status: 'pending',
        deploymentHash,
        userId: row.userId,
        deadlineAt: sql`now() + make_interval(mins => ${deps.deadlineMinutes})`,
        message: 'Queued for the install service',
        progress: 0,
        idempotencyKey: request.idempotencyKey ?? null,
      })
      .returning();
    await appendEvents(tx, created!.id, [{ kind: 'created', status: 'pending', progress: 0, message: 'Queued for the install service' }]);
    const job = buildDeployJob({
      deploymentId: created!.id,
      deploymentHash,
      projectId: row.id,
      user: request.user,
      cloud,
      server: { ...wanted, srv_ip: serverValues.srvIp, ssh_port: serverValues.sshPort, ssh_user: serverValues.sshUser },
      stack: request.input.stack,
      custom: (opened as { custom: unknown }).custom,
      composeYaml,
      progressUrl: deps.progressUrl,
    });
    const [entry] = await tx
      .insert(deployOutbox)
      .values(await outboxRow(deps.securityKey, { id: created!.id, hash: deploymentHash }, 'deploy', job))
      .returning({ id: deployOutbox.id });
    return { deploymentId: created!.id, deploymentHash, status: 'pending', projectId: row.id, outboxId: entry!.id };
  });
  try {
    return await started;
  } catch (error) {
    // The same key sent twice at once: the second insert meets the first's unique index.
    const winner = databaseErrorCode(error) === '23505' ? await earlier() : undefined;
    if (winner) return winner;
    throw error;
  }
}

/** The deployment an earlier request with this Idempotency-Key started, if any. */
export async function deploymentByKey(db: AnyDatabase, projectId: number, idempotencyKey: string): Promise<StartedDeployment | undefined> {
  const [found] = await db
    .select({ deploymentId: deployment.id, deploymentHash: deployment.deploymentHash, status: deployment.status })
    .from(deployment)
    .where(and(eq(deployment.projectId, projectId), eq(deployment.idempotencyKey, idempotencyKey)))
    .limit(1);
  return found && { ...found, projectId };
}

/** A deployment the caller may see: through the project it belongs to. */
export async function findDeployment(db: AnyDatabase, where: { id?: number; hash?: string }, scope: Scope): Promise<Deployment> {
  const condition = where.id !== undefined ? eq(deployment.id, where.id) : eq(deployment.deploymentHash, where.hash ?? '');
  const [row] = await db
    .select({ deployment })
    .from(deployment)
    .innerJoin(project, eq(project.id, deployment.projectId))
    .where(and(condition, withinScope(project.userId, scope)))
    .limit(1);
  if (!row) throw notFound('Deployment not found');
  return row.deployment;
}

export async function listDeployments(db: AnyDatabase, projectId: number, scope: Scope): Promise<DeploymentView[]> {
  await findProject(db, projectId, scope);
  const rows = await db.select().from(deployment).where(eq(deployment.projectId, projectId)).orderBy(desc(deployment.id));
  return rows.map(toDeploymentView);
}

export interface ProgressReport {
  /** The signed body's key (install-webhook.ts bodyReceiptKey): the same bytes within its window are one message. */
  bodyKey: string;
  /** The sender's message id (Upstash-Message-Id, X-Install-Message-Id), when it gives one: a redelivery later than the window. */
  messageId?: string;
  deploymentId?: number;
  deploymentHash?: string;
  status: (typeof REPORTED_STATUSES)[number];
  progress?: number;
  message?: string;
  /** The service or step the message concerns, where the install service names one. */
  subject?: string;
}

/**
 * Applies one progress message. The same signed body again within BODY_RECEIPT_WINDOW_SECONDS
 * (whatever message id it carries), or the same message id again, is applied once (the second answers
 * `duplicate`); a deployment that has ended never moves again (409).
 */
export async function applyProgress(db: AnyDatabase, report: ProgressReport): Promise<{ deployment: Deployment; duplicate: boolean }> {
  return db.transaction(async (tx) => {
    const condition =
      report.deploymentId !== undefined ? eq(deployment.id, report.deploymentId) : eq(deployment.deploymentHash, report.deploymentHash ?? '');
    const [current] = await tx.select().from(deployment).where(condition).limit(1).for('update');
    if (!current) throw notFound('Deployment not found');
    if (report.deploymentHash !== undefined && report.deploymentHash !== current.deploymentHash) {
      throw new ApiError(400, 'deploy_id and deployment_hash name different deployments');
    }
    // The body's receipt is taken over once its window has passed: a signature that old is refused, so
    // the same bytes then come from a new, fresh signature of the sender (a state reported again).
    const bodyReceipt = await tx
      .insert(webhookReceipt)
      .values({ messageId: report.bodyKey, deploymentId: current.id })
      .onConflictDoUpdate({
        target: webhookReceipt.messageId,
        set: { receivedAt: sql`now()` },
        setWhere: sql`${webhookReceipt.receivedAt} < now() - make_interval(secs => ${BODY_RECEIPT_WINDOW_SECONDS})`,
      })
      .returning({ messageId: webhookReceipt.messageId });
    if (bodyReceipt.length === 0) return { deployment: current, duplicate: true };
    if (report.messageId !== undefined && report.messageId !== report.bodyKey) {
      const receipt = await tx
        .insert(webhookReceipt)
        .values({ messageId: report.messageId, deploymentId: current.id })
        .onConflictDoNothing()
        .returning({ messageId: webhookReceipt.messageId });
      if (receipt.length === 0) return { deployment: current, duplicate: true };
    }
    if (isTerminal(current.status)) throw conflict(`Deployment has already ended (${current.status})`);
    const [updated] = await tx
      .update(deployment)
      .set({
        status: report.status,
        progress: report.progress ?? (report.status === 'completed' ? 100 : current.progress),
        message: report.message ?? current.message,
        updatedAt: sql`now()`,
      })
      .where(eq(deployment.id, current.id))
      .returning();
    await appendEvents(tx, current.id, [{ kind: 'progress', status: report.status, progress: updated!.progress, message: report.message ?? null, subject: report.subject ?? null }]);
    return { deployment: updated!, duplicate: false };
  });
}

/**
 * Cancels a deployment that has not ended. A job still in the outbox is withdrawn; one already
 * delivered is followed by a cancel job. Returns the outbox id of that cancel job, if any.
 */
export async function cancelDeployment(
  deps: Pick<DeployDeps, 'db' | 'securityKey'>,
  projectId: number,
  deploymentId: number,
  scope: Scope,
): Promise<{ deployment: Deployment; cancelOutboxId?: number }> {
  const visible = await findDeployment(deps.db, { id: deploymentId }, scope);
  if (visible.projectId !== projectId) throw notFound('Deployment not found');
  return deps.db.transaction(async (tx) => {
    const [current] = await tx.select().from(deployment).where(eq(deployment.id, deploymentId)).limit(1).for('update');
    if (!current) throw notFound('Deployment not found');
    if (isTerminal(current.status)) throw conflict(`Deployment has already ended (${current.status})`);
    const withdrawn = await tx
      .delete(deployOutbox)
      .where(and(eq(deployOutbox.deploymentId, deploymentId), eq(deployOutbox.kind, 'deploy'), sql`${deployOutbox.publishedAt} is null`))
      .returning({ attempts: deployOutbox.attempts, claimed: sql<boolean>`${deployOutbox.nextAttemptAt} > now()` });
    const [updated] = await tx
      .update(deployment)
      .set({ status: 'cancelled', message: 'Cancelled by the user', updatedAt: sql`now()` })
      .where(eq(deployment.id, deploymentId))
      .returning();
    await appendEvents(tx, deploymentId, [{ kind: 'cancelled', status: 'cancelled', message: 'Cancelled by the user' }]);
    // A job withdrawn before any delivery attempt never reached the install service: nothing to tell it.
    const neverSent = withdrawn.length > 0 && withdrawn.every((entry) => entry.attempts === 0 && !entry.claimed);
    if (neverSent) return { deployment: updated! };
    const [entry] = await tx
      .insert(deployOutbox)
      .values(
        await outboxRow(deps.securityKey, { id: deploymentId, hash: current.deploymentHash }, 'cancel', {
          action: 'cancel',
          id: deploymentId,
          deployment_id: deploymentId,
          deployment_hash: current.deploymentHash,
          project_id: current.projectId,
        }),
      )
      .returning({ id: deployOutbox.id });
    return { deployment: updated!, cancelOutboxId: entry!.id };
  });
}

/** The watchdog: every deployment past its deadline ends as timed_out. Returns their hashes. */
export async function expireOverdueDeployments(db: AnyDatabase): Promise<string[]> {
  return db.transaction(async (tx) => {
    const expired = await tx
      .update(deployment)
      .set({ status: 'timed_out', message: 'The deployment did not finish before its deadline', updatedAt: sql`now()` })
      .where(and(notInArray(deployment.status, [...TERMINAL_STATUSES]), lt(deployment.deadlineAt, sql`now()`)))
      .returning({ id: deployment.id, hash: deployment.deploymentHash, createdAt: deployment.createdAt, deadlineAt: deployment.deadlineAt });
    for (const row of expired) {
      const after = durationBetween(row.createdAt, row.deadlineAt ?? new Date());
      await appendEvents(tx, row.id, [{ kind: 'timed_out', status: 'timed_out', message: `Timed out: not finished after ${after} (the deployment's deadline)` }]);
    }
    if (expired.length > 0) {
      // A job still waiting in the outbox must not start a deployment that has already ended.
      await tx
        .delete(deployOutbox)
        .where(and(inArray(deployOutbox.deploymentId, expired.map((row) => row.id)), eq(deployOutbox.kind, 'deploy'), sql`${deployOutbox.publishedAt} is null`));
    }
    return expired.map((row) => row.hash);
  });
}

