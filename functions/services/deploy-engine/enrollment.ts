// Install commands' one-time secrets: issued with a deployment (and again on request), shown to the
// owner until used, exchanged once, before they expire, for the agent's credentials.
import { and, desc, eq, isNull, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../../db/client.ts';
import { agentEnrollment, deployment } from '../../../db/schema.ts';
import { ApiError, notFound } from '../../errors.ts';
import { registerAgent, type RegisterDeps } from '../agents.ts';
import { decryptSecret, encryptSecret, randomToken, sha256Hex } from '../crypto.ts';
import { installCommandOf } from './install-script.ts';

export const ENROLLMENT_SECRET_PATTERN = /^[A-Za-z0-9_-]{32,128}$/;

export interface EnrollmentDeps {
  db: AnyDatabase;
  securityKey: Uint8Array;
  ttlSeconds: number;
}

/** Issues a new secret for a deployment; any earlier unused one stops working. */
export async function issueEnrollment(deps: EnrollmentDeps, deploymentId: number): Promise<{ secret: string; expiresAt: Date }> {
  const secret = randomToken(32);
  const expiresAt = new Date(Date.now() + deps.ttlSeconds * 1000);
  await deps.db
    .update(agentEnrollment)
    .set({ replacedAt: sql`now()` })
    .where(and(eq(agentEnrollment.deploymentId, deploymentId), isNull(agentEnrollment.usedAt), isNull(agentEnrollment.replacedAt)));
  await deps.db.insert(agentEnrollment).values({
    secretHash: await sha256Hex(secret),
    deploymentId,
    sealedSecret: await encryptSecret(deps.securityKey, secret),
    expiresAt,
  });
  return { secret, expiresAt };
}

export interface InstallCommandView {
  install_command: string;
  expires_at: string;
}

/** The deployment's install command while it can still be used; null once used, replaced or expired. */
export async function currentInstallCommand(deps: Pick<EnrollmentDeps, 'db' | 'securityKey'>, deploymentId: number, origin: string): Promise<InstallCommandView | null> {
  const [row] = await deps.db
    .select()
    .from(agentEnrollment)
    .where(and(eq(agentEnrollment.deploymentId, deploymentId), isNull(agentEnrollment.usedAt), isNull(agentEnrollment.replacedAt), sql`${agentEnrollment.expiresAt} > now()`))
    .orderBy(desc(agentEnrollment.createdAt))
    .limit(1);
  if (!row) return null;
  const secret = await decryptSecret(deps.securityKey, row.sealedSecret);
  return { install_command: installCommandOf(origin, secret), expires_at: row.expiresAt.toISOString() };
}

export interface Enrolled {
  deploymentId: number;
  deploymentHash: string;
  agentId: string;
  agentToken: string;
}

/**
 * Trades a secret for the deployment's agent credentials, once. A used, replaced or expired secret
 * is refused (410) with what to do; an unknown one is 404. Used and registered in one transaction:
 * a failure (Vault down) leaves the secret usable.
 */
export async function enrollAgent(deps: RegisterDeps, secret: string, request: { ipAddress?: string; agentVersion: string }): Promise<Enrolled> {
  if (!ENROLLMENT_SECRET_PATTERN.test(secret)) throw notFound('This install command is not known: copy it again from the deployment page');
  const secretHash = await sha256Hex(secret);
  return deps.db.transaction(async (tx) => {
    const [row] = await tx.select().from(agentEnrollment).where(eq(agentEnrollment.secretHash, secretHash)).limit(1).for('update');
    if (!row) throw notFound('This install command is not known: copy it again from the deployment page');
    const offer = 'open the deployment page for a new install command';
    if (row.usedAt) throw new ApiError(410, `This install command was already used (at ${row.usedAt.toISOString()}): ${offer}`);
    if (row.replacedAt) throw new ApiError(410, `This install command was replaced by a newer one: ${offer}`);
    if (row.expiresAt.getTime() <= Date.now()) throw new ApiError(410, `This install command expired at ${row.expiresAt.toISOString()}: ${offer}`);
    const [target] = await tx.select({ hash: deployment.deploymentHash, status: deployment.status }).from(deployment).where(eq(deployment.id, row.deploymentId)).limit(1);
    if (!target) throw notFound('This install command is not known: copy it again from the deployment page');
    if (['cancelled', 'removed'].includes(target.status)) throw new ApiError(410, `This deployment was ${target.status}: nothing to install`);
    await tx.update(agentEnrollment).set({ usedAt: sql`now()` }).where(eq(agentEnrollment.secretHash, secretHash));
    const registered = await registerAgent(
      { db: tx, vault: deps.vault },
      {
        registration: { deployment_hash: target.hash, capabilities: ['docker', 'compose', 'logs'], agent_version: request.agentVersion, system_info: { enrolled: true } },
        enrollment: true,
        ipAddress: request.ipAddress,
      },
    );
    return { deploymentId: row.deploymentId, deploymentHash: target.hash, agentId: registered.agent_id, agentToken: registered.agent_token };
  });
}

/** The env file the install script writes and passes to `docker run --env-file`. */
export function agentEnvFile(enrolled: Enrolled, dashboardUrl: string): string {
  return [
    `DASHBOARD_URL=${dashboardUrl.replace(/\/+$/, '')}`,
    `DEPLOYMENT_HASH=${enrolled.deploymentHash}`,
    `AGENT_ID=${enrolled.agentId}`,
    `AGENT_TOKEN=${enrolled.agentToken}`,
    '',
  ].join('\n');
}
