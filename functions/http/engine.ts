// What the API and the pages share to drive the built-in deploy engine: its dependencies from the
// request, the origin servers reach this service at, and waking the deployment's object.
import type { Context } from 'hono';
import { deployEngineOf, requireSetting } from '../config.ts';
import type { OperationDeps } from '../services/deploy-engine/operations.ts';
import { wakeEngine } from '../services/doorbell.ts';
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

/** How long an agent's report waits for the engine step it causes before it is answered anyway. */
export const ENGINE_STEP_BEFORE_ANSWER_MS = 5_000;

/**
 * Advances the deployment's engine run before the request is answered, so the next step's command is
 * claimable by the time the agent (which polls again right after its report) asks. A step slower than
 * `boundMs` goes on after the answer; a failed one is retried by the object's alarm.
 */
export async function advanceEngineBeforeAnswer(c: Context<AppEnv>, deploymentHash: string, deploymentId: number, boundMs = ENGINE_STEP_BEFORE_ANSWER_MS): Promise<void> {
  const step = wakeEngine(c.env.DEPLOYMENT_DOORBELL, deploymentHash, deploymentId);
  c.executionCtx.waitUntil(step);
  let bound: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([step, new Promise<void>((resolve) => (bound = setTimeout(resolve, boundMs)))]);
  clearTimeout(bound);
}
