// Deploy and cancel as both faces do them: the service's change, then the install service told after the answer.
import type { Context } from 'hono';
import { currentUser, callerScope } from './caller.ts';
import { deployDeps, outboxDeps } from './deps.ts';
import type { AppEnv } from './env.ts';
import { describeError, log } from '../logger.ts';
import { ApiError } from '../errors.ts';
import { cloudCredentials } from '../services/clouds.ts';
import { currentInstallCommand } from '../services/deploy-engine/enrollment.ts';
import { installCommandOf } from '../services/deploy-engine/install-script.ts';
import { cancelBuiltin, checkBuiltinProvider, startBuiltinDeployment } from '../services/deploy-engine/operations.ts';
import { cloudProviderFor, isCloudProviderCode, type CloudProvider } from '../services/cloud-providers/index.ts';
import { cancelDeployment, findDeployment, startDeployment, type StartedDeployment } from '../services/deployments.ts';
import { operationDeps, publicOrigin, usesBuiltinEngine, wakeEngineLater } from './engine.ts';
import { durableDoorbell } from '../services/doorbell.ts';
import type { SavedCloudDeployInput } from '../services/inputs/deployments.ts';
import { publishOutboxEntry } from '../services/outbox.ts';

/** Publishes an outbox entry after the response, on its own connection (the request's closes). */
export function publishInBackground(c: Context<AppEnv>, outboxId: number): void {
  const deps = outboxDeps(c);
  const database = c.var.database.detached();
  const work = publishOutboxEntry({ ...deps, db: database.db }, outboxId)
    .catch((error: unknown) => log('warn', 'background publish failed; the cron retries', { outboxId, ...describeError(error) }))
    .finally(() => database.close());
  c.executionCtx.waitUntil(work);
}

/**
 * Starts (or finds, by Idempotency-Key) a deployment for the signed-in caller and publishes its job
 * after the answer: both deploy routes, and the dashboard's deploy form.
 */
export interface StartedAnswer extends StartedDeployment {
  /** False when an earlier request with the same Idempotency-Key started it. */
  fresh: boolean;
  /** Built-in engine: the line to run on the server, while it can still be used. */
  installCommand?: string;
}

export async function startAndPublish(c: Context<AppEnv>, projectId: number, input: SavedCloudDeployInput, idempotencyKey: string | undefined, savedCloudId?: number): Promise<StartedAnswer> {
  if (usesBuiltinEngine(c)) return startBuiltin(c, projectId, input, idempotencyKey, savedCloudId);
  const user = currentUser(c);
  outboxDeps(c); // delivery settings missing: 503 before anything is written
  const started = await startDeployment(deployDeps(c), { projectId, scope: callerScope(c), user: { id: user.id, email: user.email }, input, savedCloudId, idempotencyKey });
  if (started.outboxId !== undefined) publishInBackground(c, started.outboxId);
  return { ...started, fresh: started.outboxId !== undefined };
}

/** The built-in engine: the deployment, its first revision and install command; its object takes it from there. */
async function startBuiltin(c: Context<AppEnv>, projectId: number, input: SavedCloudDeployInput, idempotencyKey: string | undefined, savedCloudId?: number): Promise<StartedAnswer> {
  const user = currentUser(c);
  const deps = operationDeps(c);
  const saved = savedCloudId !== undefined ? await cloudCredentials(deps, savedCloudId, callerScope(c)) : undefined;
  const provider = saved?.provider ?? input.cloud?.provider;
  if (!provider) throw new ApiError(400, 'cloud is required', { errors: [{ path: 'body.cloud', message: 'Required' }] });
  checkBuiltinProvider(provider);
  let cloud: { id: number; provider: CloudProvider } | undefined;
  if (saved && savedCloudId !== undefined && isCloudProviderCode(provider)) {
    if (!saved.cloudToken) throw new ApiError(422, 'This saved cloud has no token: save the key again with its token', { errors: [{ path: 'params.cloud_id', message: 'no token saved' }] });
    cloud = { id: savedCloudId, provider: cloudProviderFor(provider, saved.cloudToken, c.var.config) };
  }
  const origin = publicOrigin(c);
  const started = await startBuiltinDeployment(deps, { projectId, scope: callerScope(c), userId: user.id, provider, server: input.server, idempotencyKey, publicOrigin: origin, cloud });
  // A server Stacker creates runs its install command itself (its user data): the answer has none.
  const own = provider === 'own';
  if (started.enrollmentSecret !== undefined) {
    // The object creates the server, or sets its alarm for the agent's deadline, now.
    wakeEngineLater(c, started.deploymentHash, started.deploymentId);
    return { ...started, fresh: true, installCommand: own ? installCommandOf(origin, started.enrollmentSecret) : undefined };
  }
  const install = own ? await currentInstallCommand(deps, started.deploymentId, origin) : null;
  return { ...started, fresh: false, installCommand: install?.install_command };
}

/** Cancels a deployment and tells the install service after the answer: the API's cancel route, and the dashboard's Cancel button. */
export async function cancelAndPublish(c: Context<AppEnv>, projectId: number, deploymentId: number) {
  const target = await findDeployment(c.var.database.db, { id: deploymentId }, callerScope(c));
  if (target.engine === 'builtin' && target.projectId === projectId) {
    const cancelled = await cancelBuiltin(c.var.database.db, target);
    c.executionCtx.waitUntil(durableDoorbell(c.env.DEPLOYMENT_DOORBELL).ring(cancelled.deploymentHash, 'status'));
    // The engine deletes a server it created for a deployment that never ran its stack.
    wakeEngineLater(c, cancelled.deploymentHash, cancelled.id);
    return cancelled;
  }
  const result = await cancelDeployment(deployDeps(c), projectId, deploymentId, callerScope(c));
  if (result.cancelOutboxId !== undefined) publishInBackground(c, result.cancelOutboxId);
  c.executionCtx.waitUntil(durableDoorbell(c.env.DEPLOYMENT_DOORBELL).ring(result.deployment.deploymentHash, 'status'));
  return result.deployment;
}
