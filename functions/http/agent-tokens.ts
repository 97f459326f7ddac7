// Rotating an agent's token from a request: the admin API's route and the dashboard's agent console.
import type { Context } from 'hono';
import { agentTokenDeps } from './deps.ts';
import type { AppEnv } from './env.ts';
import { ApiError } from '../errors.ts';
import { log } from '../logger.ts';
import { rotateAgentToken, type RotatedAgentToken } from '../services/agent-tokens.ts';
import { VaultUnavailableError } from '../services/vault.ts';

/** rotateAgentToken, with Vault down answered 503 (and logged, naming Vault and the path, never a token). */
export async function rotateAgentTokenOrUnavailable(c: Context<AppEnv>, deploymentHash: string, newToken?: string, graceSeconds?: number): Promise<RotatedAgentToken> {
  const deps = agentTokenDeps(c);
  try {
    return await rotateAgentToken(deps, deploymentHash, newToken, graceSeconds);
  } catch (error) {
    if (!(error instanceof VaultUnavailableError)) throw error;
    log('error', 'agent token not rotated: Vault unavailable', { requestId: c.var.requestId, deploymentHash, error: error.message });
    throw new ApiError(503, 'Vault is unavailable: the agent token was not rotated, try again later');
  }
}
