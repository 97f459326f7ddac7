// How one step of the built-in engine is run: the engine's settings, and, for the deployment's
// Durable Object, a database of its own for the call (Workers share no sockets between requests).
import type { AnyDatabase } from '../../db/client.ts';
import { RequestDatabase } from '../../db/client.ts';
import { configFromBindings, requireSetting, type Config } from '../config.ts';
import { savedCloudProvider } from '../services/deploy-engine/cloud-server.ts';
import { advanceDeployment, type AdvanceResult, type EngineDeps } from '../services/deploy-engine/engine.ts';

export function engineDeps(config: Config, db: AnyDatabase): EngineDeps {
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

export async function runEngineStep(env: object, deploymentId: number): Promise<AdvanceResult> {
  const config = configFromBindings(env);
  const database = new RequestDatabase({ url: requireSetting(config, 'DATABASE_URL'), wsProxy: config.DATABASE_WS_PROXY });
  try {
    return await advanceDeployment(engineDeps(config, database.db), deploymentId);
  } finally {
    await database.close();
  }
}
