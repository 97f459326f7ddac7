// How the deployment's Durable Object runs one step of the built-in engine: a database of its own
// for the call (Workers share no sockets between requests), the engine's settings, the step.
import { RequestDatabase } from '../../db/client.ts';
import { configFromBindings, requireSetting } from '../config.ts';
import { savedCloudProvider } from '../services/deploy-engine/cloud-server.ts';
import { advanceDeployment, type AdvanceResult } from '../services/deploy-engine/engine.ts';

export async function runEngineStep(env: object, deploymentId: number): Promise<AdvanceResult> {
  const config = configFromBindings(env);
  const database = new RequestDatabase({ url: requireSetting(config, 'DATABASE_URL'), wsProxy: config.DATABASE_WS_PROXY });
  const securityKey = requireSetting(config, 'SECURITY_KEY');
  try {
    return await advanceDeployment(
      {
        db: database.db,
        securityKey,
        agentTimeoutSeconds: config.DEPLOY_AGENT_TIMEOUT_SECONDS,
        healthTimeoutSeconds: config.DEPLOY_HEALTH_TIMEOUT_SECONDS,
        cloud: {
          serverTimeoutSeconds: config.DEPLOY_SERVER_TIMEOUT_SECONDS,
          keepFailedServers: config.DEPLOY_KEEP_FAILED_SERVERS === 'on',
          providerFor: (db, cloudId) => savedCloudProvider(db, securityKey, config, cloudId),
        },
      },
      deploymentId,
    );
  } finally {
    await database.close();
  }
}
