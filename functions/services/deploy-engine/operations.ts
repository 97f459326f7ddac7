// What users ask of the built-in engine: start a deployment on their own server, redeploy the
// project as it is now, roll back to a revision, remove the stack, cancel. Each writes the
// operation (one at a time per deployment) and its first event in one transaction; the deployment's
// Durable Object then advances it (engine.ts).
import { and, desc, eq, max, sql } from 'drizzle-orm';
import { databaseErrorCode, type AnyDatabase } from '../../../db/client.ts';
import { deployment, deploymentOperation, deploymentRevision, server, type Deployment, type DeploymentRevision } from '../../../db/schema.ts';
import { ApiError, conflict, notFound } from '../../errors.ts';
import { encryptSecret } from '../crypto.ts';
import { appendEvents } from '../deployment-events.ts';
import { deploymentByKey, findDeployment, isTerminal, type StartedDeployment } from '../deployments.ts';
import { verifyImages, type DockerHubDeps } from '../dockerhub.ts';
import { openDockerHubPasswords } from '../dockerhub-passwords.ts';
import { composeOfStored, findProject, imagesOf } from '../projects.ts';
import type { Scope } from '../scope.ts';
import type { ServerInput } from '../servers.ts';
import { addressesOf, domainsOf, prepareRevision, type RevisionService } from './revisions.ts';
import { secretValuesFor } from '../project-secrets.ts';
import { issueEnrollment } from './enrollment.ts';
import type { OperationKind } from './engine.ts';
import { checkCloudChoice, providerLabel } from './cloud-server.ts';
import type { CloudProvider } from '../cloud-providers/index.ts';
import { withdrawQueuedCommands } from './runs.ts';

/** Cloud providers the built-in engine can deploy to (`own`: a server the user already has; htz, do: a new one in the user's account). */
export const BUILTIN_PROVIDERS = ['own', 'htz', 'do'] as const;

export interface OperationDeps {
  db: AnyDatabase;
  securityKey: Uint8Array;
  dockerHub: DockerHubDeps;
  agentTimeoutSeconds: number;
  enrollmentTtlSeconds: number;
  serverTimeoutSeconds: number;
}

export interface StartedBuiltinDeployment extends StartedDeployment {
  /** The one-time secret of the install command; undefined when an earlier request with the same key started it. */
  enrollmentSecret?: string;
}

/** Refuses a provider the built-in engine cannot deploy to, saying which it can. */
export function checkBuiltinProvider(provider: string): void {
  if (!(BUILTIN_PROVIDERS as readonly string[]).includes(provider)) {
    throw new ApiError(422, `The built-in deploy engine cannot create servers on "${provider}" yet; it deploys to: ${BUILTIN_PROVIDERS.join(', ')} (own: a server you already have)`, {
      errors: [{ path: 'body.cloud.provider', message: `must be one of: ${BUILTIN_PROVIDERS.join(', ')}` }],
    });
  }
}

export async function startBuiltinDeployment(
  deps: OperationDeps,
  request: {
    projectId: number;
    scope: Scope;
    userId: string;
    provider: string;
    server: ServerInput;
    idempotencyKey?: string;
    /** Where servers reach this service (a created server's install command is made from it). */
    publicOrigin: string;
    /** htz, do: the saved cloud key, and its provider's adapter with the token. */
    cloud?: { id: number; provider: CloudProvider };
  },
): Promise<StartedBuiltinDeployment> {
  checkBuiltinProvider(request.provider);
  const project = await findProject(deps.db, request.projectId, request.scope);
  const earlier = () => (request.idempotencyKey === undefined ? undefined : deploymentByKey(deps.db, project.id, request.idempotencyKey));
  const already = await earlier();
  if (already) return already;
  const own = request.provider === 'own';
  const address = own ? (request.server.srv_ip ?? null) : null;
  if (!own && !request.cloud) {
    const label = providerLabel(request.provider);
    throw new ApiError(422, `Save your ${label} key first (POST /cloud), then deploy with it: POST /project/${project.id}/deploy/{cloud_id}`, {
      errors: [{ path: 'body.cloud', message: `a saved ${label} key is needed to create the server` }],
    });
  }
  // Checked with the user's key before anything is written: what the provider does not offer is refused here.
  const choice = request.cloud ? await checkCloudChoice(request.cloud.provider, request.server) : null;
  if (own && !address) {
    throw new ApiError(400, "An own server needs its address (server.srv_ip): the stack's addresses are made from it", {
      errors: [{ path: 'body.server.srv_ip', message: 'Required for an own server' }],
    });
  }
  const prepared = await prepareFromProject(deps, project);
  const deploymentHash = `deployment_${crypto.randomUUID()}`;
  const sealedEnv = await encryptSecret(deps.securityKey, JSON.stringify(prepared.env));
  try {
    return await deps.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(server)
        .values({
          userId: project.userId,
          projectId: project.id,
          region: request.server.region ?? null,
          server: request.server.server ?? null,
          os: request.server.os ?? null,
          srvIp: address,
          sshUser: request.server.ssh_user ?? null,
          sshPort: request.server.ssh_port ?? null,
          provider: own ? null : request.provider,
          sshPublicKey: own ? null : (request.server.ssh_public_key ?? null),
        })
        .returning({ id: server.id });
      const where = choice ? `a new ${choice.type} server in ${choice.location} at ${request.cloud!.provider.label}` : `the server at ${address}`;
      const message = choice ? `Creating a ${choice.type} server in ${choice.location} at ${request.cloud!.provider.label}` : 'Waiting for the agent: run the install command on the server';
      const [created] = await tx
        .insert(deployment)
        .values({
          projectId: project.id,
          metadata: project.metadata,
          status: 'pending',
          deploymentHash,
          userId: project.userId,
          engine: 'builtin',
          serverId: row!.id,
          message,
          progress: 0,
          idempotencyKey: request.idempotencyKey ?? null,
          cloudId: request.cloud?.id ?? null,
          publicOrigin: request.publicOrigin,
        })
        .returning();
      await tx.insert(deploymentRevision).values({ deploymentId: created!.id, revision: 1, compose: prepared.compose, sealedEnv, services: prepared.services });
      await tx.insert(deploymentOperation).values({
        deploymentId: created!.id,
        kind: 'deploy',
        revision: 1,
        step: own ? 'agent' : 'server',
        stepDeadlineAt: new Date(Date.now() + (own ? deps.agentTimeoutSeconds : deps.serverTimeoutSeconds) * 1000),
        createdBy: request.userId,
      });
      const { secret } = await issueEnrollment({ db: tx, securityKey: deps.securityKey, ttlSeconds: deps.enrollmentTtlSeconds }, created!.id);
      await appendEvents(tx, created!.id, [
        { kind: 'created', status: 'pending', progress: 0, message: `Deployment created (revision 1) for ${where}` },
        { kind: 'progress', status: 'in_progress', progress: 5, subject: 'server', message },
      ]);
      return { deploymentId: created!.id, deploymentHash, status: 'pending', projectId: project.id, enrollmentSecret: secret };
    });
  } catch (error) {
    const winner = databaseErrorCode(error) === '23505' ? await earlier() : undefined;
    if (winner) return winner;
    throw error;
  }
}

/** The revision of the project as it is now: its compose, and as env_vars its secrets and the values prepareRevision takes out. */
async function prepareFromProject(deps: Pick<OperationDeps, 'db' | 'dockerHub' | 'securityKey'>, project: { id: number; metadata: unknown }) {
  const composeYaml = composeOfStored(project.metadata);
  await verifyImages(deps.dockerHub, imagesOf(await openDockerHubPasswords(project.metadata as never, deps.securityKey)));
  const prepared = prepareRevision(composeYaml, domainsOf(project.metadata));
  const secrets = await secretValuesFor({ db: deps.db, securityKey: deps.securityKey }, project.id, prepared.compose);
  return { ...prepared, env: { ...secrets, ...prepared.env } };
}

/** A built-in deployment of the project that the caller may reach. */
async function builtinDeployment(db: AnyDatabase, projectId: number, deploymentId: number, scope: Scope): Promise<Deployment> {
  const row = await findDeployment(db, { id: deploymentId }, scope);
  if (row.projectId !== projectId) throw notFound('Deployment not found');
  if (row.engine !== 'builtin') throw new ApiError(422, 'This deployment is carried out by the install service: it cannot be redeployed, rolled back or removed from here');
  return row;
}

/** Starts an operation; a second one while one runs is 409 (the unique index decides between two at once). */
async function startOperation(
  tx: AnyDatabase,
  target: Deployment,
  operation: { kind: OperationKind; revision: number | null; step: 'apply' | 'remove'; createdBy: string; deadlineSeconds: number; message: string },
): Promise<number> {
  try {
    const [row] = await tx
      .insert(deploymentOperation)
      .values({
        deploymentId: target.id,
        kind: operation.kind,
        revision: operation.revision,
        step: operation.step,
        stepDeadlineAt: new Date(Date.now() + operation.deadlineSeconds * 1000),
        createdBy: operation.createdBy,
      })
      .returning({ id: deploymentOperation.id });
    await tx.update(deployment).set({ status: 'in_progress', progress: 0, message: operation.message, updatedAt: sql`now()` }).where(eq(deployment.id, target.id));
    await appendEvents(tx, target.id, [{ kind: 'progress', status: 'in_progress', progress: 0, subject: 'stack', message: operation.message }]);
    return row!.id;
  } catch (error) {
    if (databaseErrorCode(error) === '23505') throw conflict('Another operation is running on this deployment: wait for it to end, or cancel it');
    throw error;
  }
}

async function runningOperationGuard(db: AnyDatabase, deploymentId: number): Promise<void> {
  const [running] = await db
    .select({ kind: deploymentOperation.kind })
    .from(deploymentOperation)
    .where(and(eq(deploymentOperation.deploymentId, deploymentId), eq(deploymentOperation.status, 'running')))
    .limit(1);
  if (running) throw conflict(`A ${running.kind} is running on this deployment: wait for it to end, or cancel it`);
}

export interface OperationStarted {
  deploymentId: number;
  deploymentHash: string;
  operationId: number;
  revision: number | null;
}

/** Applies the project as it is now to the same server, as a new revision. */
export async function requestRedeploy(deps: OperationDeps, request: { projectId: number; deploymentId: number; scope: Scope; userId: string }): Promise<OperationStarted> {
  const target = await builtinDeployment(deps.db, request.projectId, request.deploymentId, request.scope);
  if (['removed', 'cancelled'].includes(target.status)) throw conflict(`This deployment was ${target.status}: start a new one`);
  await runningOperationGuard(deps.db, target.id);
  const project = await findProject(deps.db, target.projectId, request.scope);
  const prepared = await prepareFromProject(deps, project);
  const sealedEnv = await encryptSecret(deps.securityKey, JSON.stringify(prepared.env));
  return deps.db.transaction(async (tx) => {
    // Two redeploys at once: the second waits here, then finds the first's operation running.
    await tx.select({ id: deployment.id }).from(deployment).where(eq(deployment.id, target.id)).for('update');
    await runningOperationGuard(tx, target.id);
    const [last] = await tx.select({ revision: max(deploymentRevision.revision) }).from(deploymentRevision).where(eq(deploymentRevision.deploymentId, target.id));
    const revision = (last?.revision ?? 0) + 1;
    await tx.insert(deploymentRevision).values({ deploymentId: target.id, revision, compose: prepared.compose, sealedEnv, services: prepared.services });
    await tx.update(deployment).set({ metadata: project.metadata }).where(eq(deployment.id, target.id));
    const operationId = await startOperation(tx, target, {
      kind: 'redeploy',
      revision,
      step: 'apply',
      createdBy: request.userId,
      deadlineSeconds: deps.agentTimeoutSeconds,
      message: `Redeploying: applying revision ${revision}`,
    });
    return { deploymentId: target.id, deploymentHash: target.deploymentHash, operationId, revision };
  });
}

/** Applies an earlier revision again (one that was applied before). */
export async function requestRollback(deps: OperationDeps, request: { projectId: number; deploymentId: number; scope: Scope; userId: string; revision?: number }): Promise<OperationStarted> {
  const target = await builtinDeployment(deps.db, request.projectId, request.deploymentId, request.scope);
  if (['removed', 'cancelled'].includes(target.status)) throw conflict(`This deployment was ${target.status}: start a new one`);
  await runningOperationGuard(deps.db, target.id);
  const revisions = await listRevisions(deps.db, target.id);
  const chosen =
    request.revision !== undefined
      ? revisions.find((entry) => entry.revision === request.revision)
      : revisions.find((entry) => entry.appliedAt !== null && entry.revision !== target.currentRevision);
  if (!chosen) {
    throw request.revision !== undefined
      ? notFound(`This deployment has no revision ${request.revision}`)
      : new ApiError(422, 'There is no earlier revision that ran: nothing to roll back to');
  }
  if (chosen.appliedAt === null) throw new ApiError(422, `Revision ${chosen.revision} never ran: only a revision that was applied can be rolled back to`);
  return deps.db.transaction(async (tx) => {
    await tx.select({ id: deployment.id }).from(deployment).where(eq(deployment.id, target.id)).for('update');
    await runningOperationGuard(tx, target.id);
    const operationId = await startOperation(tx, target, {
      kind: 'rollback',
      revision: chosen.revision,
      step: 'apply',
      createdBy: request.userId,
      deadlineSeconds: deps.agentTimeoutSeconds,
      message: `Rolling back: applying revision ${chosen.revision}`,
    });
    return { deploymentId: target.id, deploymentHash: target.deploymentHash, operationId, revision: chosen.revision };
  });
}

/** Takes the stack down on the server (remove_app per service); the deployment ends `removed`. */
export async function requestRemove(deps: OperationDeps, request: { projectId: number; deploymentId: number; scope: Scope; userId: string }): Promise<OperationStarted> {
  const target = await builtinDeployment(deps.db, request.projectId, request.deploymentId, request.scope);
  if (target.status === 'removed') throw conflict('This deployment was already removed');
  return deps.db.transaction(async (tx) => {
    // A deploy still waiting or applying is stopped first: the removal replaces it.
    const [running] = await tx
      .select()
      .from(deploymentOperation)
      .where(and(eq(deploymentOperation.deploymentId, target.id), eq(deploymentOperation.status, 'running')))
      .limit(1)
      .for('update');
    if (running?.kind === 'remove') throw conflict('The stack is already being removed');
    if (running) {
      await tx.update(deploymentOperation).set({ status: 'cancelled', endedAt: sql`now()`, failure: 'Replaced by a removal' }).where(eq(deploymentOperation.id, running.id));
      await withdrawQueuedCommands(tx, target.deploymentHash);
    }
    const operationId = await startOperation(tx, target, {
      kind: 'remove',
      revision: target.currentRevision ?? running?.revision ?? null,
      step: 'remove',
      createdBy: request.userId,
      deadlineSeconds: deps.agentTimeoutSeconds,
      message: 'Removing the stack from the server',
    });
    return { deploymentId: target.id, deploymentHash: target.deploymentHash, operationId, revision: null };
  });
}

/**
 * Cancels the running operation of a built-in deployment: its commands no agent took are withdrawn.
 * A first deploy ends `cancelled`; a redeploy or rollback ends `failed` (the server may hold part of
 * it), so the deployment can still be redeployed, rolled back or removed.
 */
export async function cancelBuiltin(db: AnyDatabase, target: Deployment, message = 'Cancelled by the user'): Promise<Deployment> {
  return db.transaction(async (tx) => {
    // The operation's row before the deployment's, in the engine step's order: the other way round,
    // a cancel and a step running at once deadlock.
    await tx
      .select({ id: deploymentOperation.id })
      .from(deploymentOperation)
      .where(and(eq(deploymentOperation.deploymentId, target.id), eq(deploymentOperation.status, 'running')))
      .for('update');
    const [current] = await tx.select().from(deployment).where(eq(deployment.id, target.id)).limit(1).for('update');
    if (!current) throw notFound('Deployment not found');
    if (isTerminal(current.status)) throw conflict(`Deployment has already ended (${current.status})`);
    const [running] = await tx
      .update(deploymentOperation)
      .set({ status: 'cancelled', endedAt: sql`now()`, failure: message })
      .where(and(eq(deploymentOperation.deploymentId, target.id), eq(deploymentOperation.status, 'running')))
      .returning({ kind: deploymentOperation.kind, revision: deploymentOperation.revision });
    await withdrawQueuedCommands(tx, current.deploymentHash);
    const update = running && running.kind !== 'deploy';
    const status = update ? 'failed' : 'cancelled';
    const said = update
      ? `${message} during the ${running.kind} of revision ${running.revision}: the server may run part of it${current.currentRevision ? ` (revision ${current.currentRevision} ran before)` : ''}`
      : message;
    const [updated] = await tx.update(deployment).set({ status, message: said, updatedAt: sql`now()` }).where(eq(deployment.id, target.id)).returning();
    await appendEvents(tx, target.id, [{ kind: 'cancelled', status, message: said }]);
    return updated!;
  });
}

export interface RevisionView {
  revision: number;
  status: string;
  message: string | null;
  services: RevisionService[];
  created_at: string;
  applied_at: string | null;
  current: boolean;
}

export async function listRevisions(db: AnyDatabase, deploymentId: number): Promise<DeploymentRevision[]> {
  return db.select().from(deploymentRevision).where(eq(deploymentRevision.deploymentId, deploymentId)).orderBy(desc(deploymentRevision.revision));
}

export function toRevisionView(row: DeploymentRevision, currentRevision: number | null): RevisionView {
  return {
    revision: row.revision,
    status: row.status,
    message: row.message,
    services: row.services,
    created_at: row.createdAt.toISOString(),
    applied_at: row.appliedAt?.toISOString() ?? null,
    current: row.revision === currentRevision,
  };
}

/** A server Stacker created in the user's cloud, as the deployment page shows it. */
export interface CloudServerView {
  provider: string;
  label: string;
  /** The provider's ID; null until its create answered. */
  id: string | null;
  console_url: string | null;
  deleted_at: string | null;
}

export interface EngineView {
  engine: 'builtin';
  server_address: string | null;
  cloud_server: CloudServerView | null;
  current_revision: number | null;
  addresses: Array<{ service: string; url: string }>;
  revisions: RevisionView[];
  operation: null | { kind: string; step: string; status: string; revision: number | null };
}

/** What the deployment page, `stacker status` and the API show of a built-in deployment. */
export async function engineView(db: AnyDatabase, target: Deployment): Promise<EngineView> {
  const revisions = await listRevisions(db, target.id);
  const [row] =
    target.serverId === null
      ? []
      : await db.select({ address: server.srvIp, provider: server.provider, id: server.providerServerId, deletedAt: server.deletedAt }).from(server).where(eq(server.id, target.serverId)).limit(1);
  const [operation] = await db
    .select()
    .from(deploymentOperation)
    .where(eq(deploymentOperation.deploymentId, target.id))
    .orderBy(desc(deploymentOperation.id))
    .limit(1);
  const current = revisions.find((entry) => entry.revision === target.currentRevision);
  const address = row?.address ?? null;
  return {
    engine: 'builtin',
    server_address: address,
    cloud_server: row?.provider
      ? {
          provider: row.provider,
          label: providerLabel(row.provider),
          id: row.id,
          // Hetzner's console pages are under the project's ID, which the API does not tell.
          console_url: row.provider === 'do' ? (row.id ? `https://cloud.digitalocean.com/droplets/${row.id}` : null) : 'https://console.hetzner.cloud/projects',
          deleted_at: row.deletedAt?.toISOString() ?? null,
        }
      : null,
    current_revision: target.currentRevision,
    addresses: current && target.status !== 'removed' ? addressesOf(current.services, address) : [],
    revisions: revisions.map((entry) => toRevisionView(entry, target.currentRevision)),
    operation: operation ? { kind: operation.kind, step: operation.step, status: operation.status, revision: operation.revision } : null,
  };
}
