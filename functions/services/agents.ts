// Agents: one per deployment; registration issues its token (kept in Vault, hashed in the database),
// polls keep its heartbeat, and its apps report their status.
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { agents, appStatus, auditLog, deployment, type Agent } from '../../db/schema.ts';
import { appendEvents } from './deployment-events.ts';
import { ApiError, conflict, notFound } from '../errors.ts';
import { describeError, log } from '../logger.ts';
import { randomToken, sha256Hex } from './crypto.ts';
import { findDeployment } from './deployments.ts';
import type { Scope } from './scope.ts';
import { VaultUnavailableError, type AgentTokenVault } from './vault.ts';

/** Heartbeats are written at most this often per agent by reports, not on every call. */
export const HEARTBEAT_EVERY_SECONDS = 30;
/** The longest wait the agent is told to use; liveness allows two of them plus 20 s (Portainer's rule). */
export const MAX_WAIT_SECONDS = 25;

/** How much earlier than its arrival a signed wait may be counted from (waitDeadline). */
export const QUEUED_CREDIT_MAX_MS = 10_000;
/** Waits of at least this many seconds end up to WAIT_SPREAD earlier, at random (waitDeadline). */
export const SPREAD_FROM_SECONDS = 10;
export const WAIT_SPREAD = 0.2;

/**
 * When an agent's wait ends: `timeout` after it started, where
 * - it starts at its arrival at the Worker, or, for a signed wait whose X-Timestamp says it was sent
 *   more than a second (the timestamp's resolution) before that, as much earlier as it queued, by at
 *   most QUEUED_CREDIT_MAX_MS. The agent's client gives up `timeout + 5 s` after sending, so a poll
 *   that queued behind a burst of others (a fleet starting) is still answered in time instead of
 *   failing and coming back after a back-off. An agent whose clock runs behind gets shorter waits,
 *   by at most the same bound;
 * - a wait of SPREAD_FROM_SECONDS or more ends up to WAIT_SPREAD of it earlier, at random, so that a
 *   fleet that started together (a region's servers rebooting) does not poll in step for ever, every
 *   agent at the same second.
 * Both only ever shorten a wait: answering early is always safe (the agent polls again at once).
 */
export function waitDeadline(arrival: number, sentAt: number | undefined, timeoutSeconds: number, random: () => number = Math.random): number {
  const queued = sentAt === undefined ? 0 : arrival - sentAt - 1000;
  const start = arrival - Math.min(QUEUED_CREDIT_MAX_MS, Math.max(0, queued));
  const spread = timeoutSeconds >= SPREAD_FROM_SECONDS ? WAIT_SPREAD * random() : 0;
  return start + Math.round(timeoutSeconds * 1000 * (1 - spread));
}
export const OFFLINE_AFTER_SECONDS = 2 * MAX_WAIT_SECONDS + 20;
export const ROTATION_GRACE_MINUTES = 10;

export interface Registration {
  deployment_hash: string;
  capabilities: string[];
  system_info?: unknown;
  agent_version: string;
  public_key?: string | null;
}

export interface RegisteredAgent {
  agent_id: string;
  agent_token: string;
  deployment_hash: string;
  dashboard_version: string;
  supported_api_versions: string[];
  reissued: boolean;
}

export interface RegisterDeps {
  db: AnyDatabase;
  vault: AgentTokenVault;
}

/**
 * Registers the agent of a deployment. The first registration may be anonymous (provisioning runs
 * before anyone holds credentials for the server); after that only the deployment's owner, an admin
 * or the owner's API client may register again, which issues a new token (the old one keeps working
 * for a grace period). The row and Vault change together: Vault failing leaves no agent behind.
 */
export async function registerAgent(
  deps: RegisterDeps,
  request: { registration: Registration; scope?: Scope; ipAddress?: string; /** Through an install command's one-time secret. */ enrollment?: boolean },
): Promise<RegisteredAgent> {
  const hash = request.registration.deployment_hash;
  const [target] = await deps.db.select({ id: deployment.id, engine: deployment.engine }).from(deployment).where(eq(deployment.deploymentHash, hash)).limit(1);
  if (!target) throw notFound('Deployment not found');
  if (request.scope) await findDeployment(deps.db, { hash }, request.scope);
  // The built-in engine's servers enrol with their install command: a hash alone proves nothing.
  if (target.engine === 'builtin' && !request.scope && !request.enrollment) {
    throw new ApiError(403, "This deployment's agent enrols with its install command (see the deployment page), not by its hash");
  }

  const token = randomToken(48);
  const tokenHash = await sha256Hex(token);
  const registration = request.registration;
  let reissued = false;
  const agentId = await deps.db.transaction(async (tx) => {
    const [existing] = await tx.select().from(agents).where(eq(agents.deploymentHash, hash)).limit(1).for('update');
    let id: string;
    if (existing) {
      if (!request.scope && !request.enrollment) throw conflict('Agent already registered for this deployment');
      await tx
        .update(agents)
        .set({
          capabilities: registration.capabilities,
          version: registration.agent_version,
          systemInfo: (registration.system_info ?? {}) as Record<string, unknown>,
          tokenHash,
          previousTokenHash: existing.tokenHash,
          previousTokenExpiresAt: sql`now() + make_interval(mins => ${ROTATION_GRACE_MINUTES})`,
          tokenRotatedAt: sql`now()`,
          updatedAt: sql`now()`,
        })
        .where(eq(agents.id, existing.id));
      id = existing.id;
      reissued = true;
    } else {
      const [created] = await tx
        .insert(agents)
        .values({
          deploymentHash: hash,
          capabilities: registration.capabilities,
          version: registration.agent_version,
          systemInfo: (registration.system_info ?? {}) as Record<string, unknown>,
          status: 'offline',
          tokenHash,
        })
        .onConflictDoNothing()
        .returning({ id: agents.id });
      if (!created) throw conflict('Agent already registered for this deployment');
      id = created.id;
    }
    const said = reissued ? 'Agent token reissued' : 'Agent registered';
    await appendEvents(tx, { hash }, [{ kind: 'agent', status: reissued ? 'reissued' : 'registered', message: `${said} (version ${registration.agent_version})` }]);
    try {
      await deps.vault.store(hash, token);
    } catch (error) {
      if (error instanceof VaultUnavailableError) {
        log('error', 'agent registration: Vault unavailable', { deploymentHash: hash, error: error.message });
        throw new ApiError(503, 'Vault is unavailable: the agent token cannot be stored, try again later');
      }
      throw error;
    }
    return id;
  });

  await deps.db
    .insert(auditLog)
    .values({
      agentId,
      deploymentHash: hash,
      action: 'agent.registered',
      status: 'success',
      details: { version: registration.agent_version, capabilities: registration.capabilities },
      ipAddress: request.ipAddress ?? null,
    })
    .catch((error: unknown) => log('warn', 'audit write failed', describeError(error)));

  return {
    agent_id: agentId,
    agent_token: token,
    deployment_hash: hash,
    dashboard_version: '2.0.0',
    supported_api_versions: ['1.0'],
    reissued,
  };
}

/**
 * Marks the agent online, at most every HEARTBEAT_EVERY_SECONDS: no query at all while the heartbeat
 * read when the agent authenticated is recent (most polls), and the database checks its age again.
 */
export async function recordHeartbeat(db: AnyDatabase, agent: { agentId: string; lastHeartbeatAt: Date | null }): Promise<void> {
  if (agent.lastHeartbeatAt && Date.now() - agent.lastHeartbeatAt.getTime() < HEARTBEAT_EVERY_SECONDS * 1000) return;
  await db
    .update(agents)
    .set({ lastHeartbeat: sql`now()`, status: 'online', updatedAt: sql`now()` })
    .where(
      and(
        eq(agents.id, agent.agentId),
        or(isNull(agents.lastHeartbeat), lt(agents.lastHeartbeat, sql`now() - make_interval(secs => ${HEARTBEAT_EVERY_SECONDS})`)),
      ),
    );
}

export interface AppStatusReport {
  deployment_hash: string;
  app_code: string;
  status: string;
  logs: unknown[];
  timestamp?: string;
}

export async function recordAppStatus(db: AnyDatabase, report: AppStatusReport): Promise<void> {
  // v0.2.1 follows a health check of every container (app_code "all") with status "error" for an app
  // named "all": that answer has no state of its own. It says nothing about any app: not kept.
  if (report.app_code === 'all') return;
  const values = {
    deploymentHash: report.deployment_hash,
    appCode: report.app_code,
    status: report.status,
    logs: report.logs,
    reportedAt: report.timestamp ? new Date(report.timestamp) : null,
  };
  await db.transaction(async (tx) => {
    await tx
      .insert(appStatus)
      .values(values)
      .onConflictDoUpdate({
        target: [appStatus.deploymentHash, appStatus.appCode],
        set: { status: values.status, logs: values.logs, reportedAt: values.reportedAt, updatedAt: sql`now()` },
      });
    await appendEvents(tx, { hash: report.deployment_hash }, [{ kind: 'app_status', status: report.status.slice(0, 32), subject: report.app_code, message: `${report.app_code}: ${report.status}` }]);
  });
}

export interface AgentOverview {
  deployment_hash: string;
  agent: null | {
    agent_id: string;
    version: string | null;
    capabilities: string[];
    /** Computed: online when the last poll is recent enough, never a sticky flag. */
    status: 'online' | 'offline';
    last_heartbeat: string | null;
    registered_at: string | null;
  };
  apps: Array<{ app_code: string; status: string; logs: unknown[]; reported_at: string | null; updated_at: string }>;
}

export function livenessOf(agent: Pick<Agent, 'lastHeartbeat'>, now = Date.now()): 'online' | 'offline' {
  // Heartbeats are written at most every HEARTBEAT_EVERY_SECONDS, so allow for that too. Waits write
  // theirs at most every HEARTBEAT_FLUSH_MS (60 s): an agent polling at least every MAX_WAIT_SECONDS
  // has a heartbeat at most 60 + 25 s old, inside this limit (100 s).
  const limit = (OFFLINE_AFTER_SECONDS + HEARTBEAT_EVERY_SECONDS) * 1000;
  return agent.lastHeartbeat && now - agent.lastHeartbeat.getTime() <= limit ? 'online' : 'offline';
}

export async function agentOverview(db: AnyDatabase, deploymentHash: string, scope: Scope): Promise<AgentOverview> {
  await findDeployment(db, { hash: deploymentHash }, scope);
  const [agent] = await db.select().from(agents).where(eq(agents.deploymentHash, deploymentHash)).limit(1);
  const apps = await db.select().from(appStatus).where(eq(appStatus.deploymentHash, deploymentHash)).orderBy(appStatus.appCode);
  return {
    deployment_hash: deploymentHash,
    agent: agent
      ? {
          agent_id: agent.id,
          version: agent.version,
          capabilities: agent.capabilities ?? [],
          status: livenessOf(agent),
          last_heartbeat: agent.lastHeartbeat?.toISOString() ?? null,
          registered_at: agent.createdAt?.toISOString() ?? null,
        }
      : null,
    apps: apps.map((app) => ({
      app_code: app.appCode,
      status: app.status,
      logs: app.logs,
      reported_at: app.reportedAt?.toISOString() ?? null,
      updated_at: app.updatedAt.toISOString(),
    })),
  };
}
