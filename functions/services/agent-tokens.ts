// Agent tokens: issued from the CSPRNG, kept in Vault (where provisioning and the agent read them)
// and as a SHA-256 in the database (what authentication compares). A rotation keeps the previous
// token valid for a grace period, so an agent can pick the new one up without being locked out.
import { eq, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { AnyDatabase } from '../../db/client.ts';
import { agents } from '../../db/schema.ts';
import { badRequest, notFound } from '../errors.ts';
import { describeError, log } from '../logger.ts';
import { AgentClient, rotateToken } from './agent-client.ts';
import { agentCredentialsChanged } from './agent-gate.ts';
import { DEFAULT_GRACE_SECONDS, graceSecondsSchema } from './agent-token-grace.ts';
import { randomToken, sha256Hex } from './crypto.ts';
import type { AgentTokenVault } from './vault.ts';

/** The grace period's default, bounds and check (in agent-token-grace.ts, which the console reads alone). */
export { DEFAULT_GRACE_SECONDS, graceSecondsSchema, MAX_GRACE_SECONDS } from './agent-token-grace.ts';

/** A token a caller may choose: 32–256 characters of [A-Za-z0-9_-] (what issueAgentToken makes is 64). */
export const agentTokenSchema = z
  .string()
  .min(32, 'must be at least 32 characters')
  .max(256, 'must be at most 256 characters')
  .regex(/^[A-Za-z0-9_-]+$/, 'must contain only letters, digits, "_" and "-"');

export const deploymentHashSchema = z
  .string()
  .min(1, 'must not be empty')
  .max(64, 'must be at most 64 characters')
  .regex(/^[\w.-]+$/, 'must contain only letters, digits, "_", "." and "-"')
  .refine((value) => value !== '.' && value !== '..', 'must not be "." or ".."');

/** 48 random bytes, base64url: 64 characters. */
export function issueAgentToken(): string {
  return randomToken(48);
}

export interface AgentTokenDeps {
  db: AnyDatabase;
  vault: AgentTokenVault;
  /** AGENT_BASE_URL: when set, the agent's local API is told the new token (best effort). */
  agentBaseUrl?: string;
  /** For tests: how long to wait for the agent. */
  agentTimeoutMs?: number;
}

export interface RotatedAgentToken {
  deployment_hash: string;
  /** The new token: returned only to the caller who asked for the rotation. */
  agent_token: string;
  /** Until when the previous token is still accepted (ISO 8601). */
  previous_token_valid_until: string;
  /** Whether the agent's local API accepted the new token (false when AGENT_BASE_URL is unset or it failed). */
  agent_notified: boolean;
}

/**
 * Gives the deployment's agent a new token: Vault first (if Vault is down, nothing changes), then the
 * database (token_hash = new, previous_token_hash = old until now + grace), then, if AGENT_BASE_URL
 * is set, the agent itself, with a request signed with the old token (best effort). The agent row
 * stays locked from the Vault write to the commit, so two rotations at once cannot leave Vault and the
 * database apart; if the database fails after Vault took the new token, the old one is put back.
 */
export async function rotateAgentToken(
  deps: AgentTokenDeps,
  deploymentHash: string,
  newToken?: string,
  graceSeconds = DEFAULT_GRACE_SECONDS,
): Promise<RotatedAgentToken> {
  const hash = deploymentHashSchema.safeParse(deploymentHash);
  if (!hash.success) throw badRequest(`Invalid deployment_hash: ${hash.error.issues[0]!.message}`, [{ path: 'deployment_hash', message: hash.error.issues[0]!.message }]);
  const chosen = newToken === undefined ? undefined : agentTokenSchema.safeParse(newToken);
  if (chosen && !chosen.success) throw badRequest(`Invalid new_token: ${chosen.error.issues[0]!.message}`, [{ path: 'new_token', message: chosen.error.issues[0]!.message }]);
  const graceParsed = graceSecondsSchema.safeParse(graceSeconds);
  if (!graceParsed.success) throw badRequest(`Invalid grace_seconds: ${graceParsed.error.issues[0]!.message}`, [{ path: 'grace_seconds', message: graceParsed.error.issues[0]!.message }]);
  const grace = graceParsed.data;
  const token = chosen?.data ?? issueAgentToken();
  const tokenHash = await sha256Hex(token);

  // The current token in clear, if Vault has it: the agent verifies our call with it, and it is put
  // back into Vault should the database refuse the new one after Vault took it.
  let oldToken: string | undefined;
  let vaultWritten = false;
  const rotated = await deps.db
    .transaction(async (tx) => {
      const [agent] = await tx
        .select({ id: agents.id, tokenHash: agents.tokenHash })
        .from(agents)
        .where(eq(agents.deploymentHash, hash.data))
        .for('update')
        .limit(1);
      if (!agent) throw notFound('Agent not found');

      const stored = await deps.vault.read(hash.data);
      if (stored !== undefined && agent.tokenHash !== null && (await sha256Hex(stored)) === agent.tokenHash) oldToken = stored;

      await deps.vault.store(hash.data, token);
      vaultWritten = true;

      const [row] = await tx
        .update(agents)
        .set({
          // Grace 0: the old token is forgotten at once (nothing left to accept it, cached or not).
          previousTokenHash: grace === 0 ? null : sql`${agents.tokenHash}`,
          previousTokenExpiresAt: sql`now() + make_interval(secs => ${grace})`,
          tokenHash,
          tokenRotatedAt: sql`now()`,
          updatedAt: sql`now()`,
        })
        .where(eq(agents.id, agent.id))
        .returning({ id: agents.id, previousTokenExpiresAt: agents.previousTokenExpiresAt });
      return { agentId: row!.id, validUntil: row!.previousTokenExpiresAt! };
    })
    .catch(async (error: unknown) => {
      if (vaultWritten && oldToken !== undefined) {
        await deps.vault.store(hash.data, oldToken).catch((restoreError: unknown) =>
          log('error', 'agent token rotation failed after Vault took the new token; the old one could not be put back', {
            deploymentHash: hash.data,
            ...describeError(restoreError),
          }),
        );
      }
      throw error;
    });

  // Before answering: the deployment's object keeps the new token only (agent-gate.ts).
  if (!(await agentCredentialsChanged(hash.data, undefined, { agentId: rotated.agentId, tokenHash }))) {
    log('warn', 'agent token rotated; the wait cache was not told (the heartbeat flush re-reads it within a minute)', { deploymentHash: hash.data });
  }

  let agentNotified = false;
  if (deps.agentBaseUrl) {
    if (oldToken === undefined) {
      log('warn', 'agent not told its new token: the current token is not in Vault', { deploymentHash: hash.data });
    } else {
      const client = new AgentClient({ baseUrl: deps.agentBaseUrl, agentId: rotated.agentId, token: oldToken, timeoutMs: deps.agentTimeoutMs });
      try {
        agentNotified = (await rotateToken(client, token)).rotated;
      } catch (error) {
        // AgentRequestError messages name the call and the status, never a token.
        log('warn', 'agent not told its new token', { deploymentHash: hash.data, ...describeError(error) });
      }
    }
  }

  return {
    deployment_hash: hash.data,
    agent_token: token,
    previous_token_valid_until: new Date(rotated.validUntil).toISOString(),
    agent_notified: agentNotified,
  };
}
