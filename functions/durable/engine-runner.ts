// How the deployment's Durable Object runs one step of the built-in engine: a database of its own
// for the call (Workers share no sockets between requests), the engine's settings, the step.
import { RequestDatabase } from '../../db/client.ts';
import { configFromBindings, requireSetting } from '../config.ts';
import { advanceDeployment, engineDepsFromConfig, type AdvanceResult } from '../services/deploy-engine/engine.ts';

export async function runEngineStep(env: object, deploymentId: number): Promise<AdvanceResult> {
  const config = configFromBindings(env);
  const database = new RequestDatabase({ url: requireSetting(config, 'DATABASE_URL'), wsProxy: config.DATABASE_WS_PROXY });
  try {
    return await advanceDeployment(engineDepsFromConfig(config, database.db), deploymentId);
  } finally {
    await database.close();
  }
}
