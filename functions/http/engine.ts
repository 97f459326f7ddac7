// What the API and the pages share to drive the built-in deploy engine: its dependencies from the
// request, the origin servers reach this service at, and waking the deployment's object.
import type { Context } from 'hono';
import { deployEngineOf, requireSetting } from '../config.ts';
import type { OperationDeps } from '../services/deploy-engine/operations.ts';
import { describeError, log } from '../logger.ts';
import { advanceDeployment, engineDepsFromConfig } from '../services/deploy-engine/engine.ts';
import { engineStepped, wakeEngine } from '../services/doorbell.ts';
import type { AppEnv } from './env.ts';

export function operationDeps(c: Context<AppEnv>): OperationDeps {
  const config = c.var.config;
  return {
    db: c.var.database.db,
    securityKey: requireSetting(config, 'SECURITY_KEY'),
    dockerHub: { baseUrl: config.DOCKERHUB_URL, enabled: config.DOCKERHUB_CHECK === 'on' },
    agentTimeoutSeconds: config.DEPLOY_AGENT_TIMEOUT_SECONDS,
    enrollmentTtlSeconds: config.DEPLOY_ENROLLMENT_TTL_SECONDS,
    serverTimeoutSeconds: config.DEPLOY_SERVER_TIMEOUT_SECONDS,
  };
}

export const usesBuiltinEngine = (c: Context<AppEnv>) => deployEngineOf(c.var.config) === 'builtin';

/** Where servers reach this service: PUBLIC_URL, else the origin the request came to. */
export function publicOrigin(c: Context<AppEnv>): string {
  return (c.var.config.PUBLIC_URL ?? new URL(c.req.url).origin).replace(/\/+$/, '');
}

/** Advances the deployment's engine run once the response is sent (the object's alarm and the cron catch a lost one). */
export function wakeEngineLater(c: Context<AppEnv>, deploymentHash: string, deploymentId: number): void {
  c.executionCtx.waitUntil(wakeEngine(c.env.DEPLOYMENT_DOORBELL, deploymentHash, deploymentId));
}

/**
 * Takes the step of the deployment's engine run that a request caused (an enrollment: the stack's
 * deploy_app commands; an agent's report: e.g. health after the last deploy_app) on the request's own
 * connection, before it is answered, then tells the deployment's object (which rings the agent's wait
 * and keeps the alarm). The agent polls right after it starts and after each report, and finds the
 * next command. Postgres' row lock orders this step with the object's.
 * A step that fails is left to the object.
 */
export async function advanceEngineBeforeAnswer(c: Context<AppEnv>, deploymentHash: string, deploymentId: number): Promise<void> {
  try {
    const result = await advanceDeployment(engineDepsFromConfig(c.var.config, c.var.database.db), deploymentId);
    await engineStepped(c.env.DEPLOYMENT_DOORBELL, deploymentHash, deploymentId, {
      wakeAt: result.wakeAt?.getTime() ?? null,
      queuedCommands: result.queuedCommands,
      wroteEvents: result.wroteEvents,
    });
  } catch (error) {
    log('warn', 'deploy engine step before an answer failed; the deployment object takes it', { deploymentId, ...describeError(error) });
    wakeEngineLater(c, deploymentHash, deploymentId);
  }
}
