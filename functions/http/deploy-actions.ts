// Deploy and cancel as both faces do them: the service's change, then the install service told after the answer.
import type { Context } from 'hono';
import { currentUser, callerScope } from './caller.ts';
import { deployDeps, outboxDeps } from './deps.ts';
import type { AppEnv } from './env.ts';
import { describeError, log } from '../logger.ts';
import { cancelDeployment, startDeployment, type StartedDeployment } from '../services/deployments.ts';
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
export async function startAndPublish(c: Context<AppEnv>, projectId: number, input: SavedCloudDeployInput, idempotencyKey: string | undefined, savedCloudId?: number): Promise<StartedDeployment> {
  const user = currentUser(c);
  outboxDeps(c); // delivery settings missing: 503 before anything is written
  const started = await startDeployment(deployDeps(c), { projectId, scope: callerScope(c), user: { id: user.id, email: user.email }, input, savedCloudId, idempotencyKey });
  if (started.outboxId !== undefined) publishInBackground(c, started.outboxId);
  return started;
}

/** Cancels a deployment and tells the install service after the answer: the API's cancel route, and the dashboard's Cancel button. */
export async function cancelAndPublish(c: Context<AppEnv>, projectId: number, deploymentId: number) {
  const result = await cancelDeployment(deployDeps(c), projectId, deploymentId, callerScope(c));
  if (result.cancelOutboxId !== undefined) publishInBackground(c, result.cancelOutboxId);
  c.executionCtx.waitUntil(durableDoorbell(c.env.DEPLOYMENT_DOORBELL).ring(result.deployment.deploymentHash, 'status'));
  return result.deployment;
}
