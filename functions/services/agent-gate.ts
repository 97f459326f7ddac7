// The wait route's authentication without Postgres (DESIGN "Agent long-poll", issue 16): the
// deployment's Durable Object vouches for a token it has seen Postgres accept, remembers signed
// requests' ids, and says when the heartbeat is due. Postgres is read on a miss (unknown agent,
// another token, a change since) and written once per HEARTBEAT_FLUSH_MS per agent, in a statement
// that re-reads the credentials too. A token the cache does not vouch for is always checked in Postgres.
import { eq, inArray, sql } from 'drizzle-orm';
import type { AnyDatabase, RequestDatabase } from '../../db/client.ts';
import { agents } from '../../db/schema.ts';
import { HEARTBEAT_FLUSH_MS, type CachedAgent, type CachedCredentials, type HeartbeatClaim } from '../durable/agent-gate-types.ts';
import type { DeploymentDoorbell } from '../durable/deployment-doorbell.ts';
import { unauthorized } from '../errors.ts';
import { describeError, log } from '../logger.ts';
import { hasPendingCommands } from './commands.ts';
import { constantTimeEqual } from './crypto.ts';

export type DoorbellNamespace = DurableObjectNamespace;

export function doorbellStub(namespace: DoorbellNamespace, deploymentHash: string): DurableObjectStub<DeploymentDoorbell> {
  const typed = namespace as unknown as DurableObjectNamespace<DeploymentDoorbell>;
  return typed.get(typed.idFromName(deploymentHash));
}

interface AgentRow {
  id: string;
  deploymentHash: string;
  tokenHash: string | null;
  previousTokenHash: string | null;
  previousTokenExpiresAt: Date | null;
  lastHeartbeat: Date | null;
}

/** Whether the presented hash is the row's token, or its previous one within the grace period. */
export function rowAccepts(row: AgentRow | undefined, presented: string, now = Date.now()): boolean {
  // Compared even when the agent is unknown, so timing does not tell which agent ids exist.
  const current = constantTimeEqual(presented, row?.tokenHash ?? '0'.repeat(64));
  const previous =
    row?.previousTokenHash != null &&
    row.previousTokenExpiresAt != null &&
    row.previousTokenExpiresAt.getTime() > now &&
    constantTimeEqual(presented, row.previousTokenHash);
  return !!row && !!row.tokenHash && (current || previous);
}

/** The object's entry for a row just read: credentials checked now, the heartbeat as Postgres has it. */
export function cachedFrom(row: AgentRow, now = Date.now()): CachedAgent {
  return {
    agentId: row.id,
    tokenHash: row.tokenHash!,
    previousTokenHash: row.previousTokenHash,
    previousTokenExpiresAt: row.previousTokenExpiresAt?.getTime() ?? null,
    checkedAt: now,
    heartbeatAt: row.lastHeartbeat?.getTime() ?? 0,
  };
}

const agentColumns = {
  id: agents.id,
  deploymentHash: agents.deploymentHash,
  tokenHash: agents.tokenHash,
  previousTokenHash: agents.previousTokenHash,
  previousTokenExpiresAt: agents.previousTokenExpiresAt,
  lastHeartbeat: agents.lastHeartbeat,
};

export async function readAgent(db: AnyDatabase, agentId: string): Promise<AgentRow | undefined> {
  const [row] = await db.select(agentColumns).from(agents).where(eq(agents.id, agentId)).limit(1);
  return row;
}

/** The batched heartbeat: one statement that marks the agents online and reads their credentials back. */
async function flushHeartbeats(db: AnyDatabase, agentIds: string[]): Promise<AgentRow[]> {
  return await db
    .update(agents)
    .set({ lastHeartbeat: sql`now()`, status: 'online', updatedAt: sql`now()` })
    .where(inArray(agents.id, agentIds))
    .returning(agentColumns);
}

/** Whether a heartbeat read from Postgres is old enough that this poll should write a new one. */
export function heartbeatStale(lastHeartbeat: Date | null, now = Date.now()): boolean {
  return !lastHeartbeat || now - lastHeartbeat.getTime() >= HEARTBEAT_FLUSH_MS;
}

// Changes to agent credentials made by code that does not hold the request's bindings (the
// dashboard's and the CLI's calls of rotateAgentToken) reach the Durable Object through this: the
// Worker sets it on every request; outside the Worker (the CLI) it is unset and the heartbeat flush
// bounds the staleness instead.
let credentialNamespace: DoorbellNamespace | undefined;

export function useCredentialNamespace(namespace: DoorbellNamespace | undefined): void {
  if (namespace) credentialNamespace = namespace;
}

/** The agent's credentials just committed by registration or rotation: its new token only. */
export interface IssuedToken {
  agentId: string;
  tokenHash: string;
}

/**
 * Tells the deployment's object that its agent's credentials changed; awaited before the change is
 * answered, so the old token is refused from then on (as Postgres says). With `issued` the object
 * keeps the new token (so the agent's next poll needs no query); a previous token in its grace period
 * is not cached and goes to Postgres once. Answers the object's claim version, or undefined when the
 * object could not be told. Throws nothing: a failure is logged by the caller and bounded by the
 * heartbeat flush.
 */
export async function agentCredentialsChanged(
  deploymentHash: string,
  namespace = credentialNamespace,
  issued?: IssuedToken,
): Promise<{ version?: number } | undefined> {
  if (!namespace) return undefined;
  try {
    const stub = doorbellStub(namespace, deploymentHash);
    if (!issued) {
      await stub.forgetAgents();
      return {};
    }
    // Never heartbeated: the first poll writes one (without making the agent wait for it).
    const entry: CachedAgent = { ...issued, previousTokenHash: null, previousTokenExpiresAt: null, checkedAt: Date.now(), heartbeatAt: 0 };
    return await stub.agentCredentialsSet(entry);
  } catch {
    return undefined;
  }
}

/**
 * After a registration: tells the object whether anything is claimable for the deployment (read
 * after its claim version), so the agent's first poll skips the claim too when nothing is. A ring
 * since `version` keeps the deployment claimable.
 */
export async function primeClaimState(db: AnyDatabase, namespace: DoorbellNamespace, deploymentHash: string, version: number): Promise<void> {
  if (await hasPendingCommands(db, deploymentHash)) return;
  await doorbellStub(namespace, deploymentHash).claimedNothing(version);
}

/** A gated wait's heartbeat: what the object said of it (the token presented, its epoch, the claim it handed out). */
export interface GatedHeartbeat {
  tokenHash: string;
  epoch: number;
  claim?: HeartbeatClaim;
}

/**
 * A gated wait's heartbeat, when due: one statement writes it and reads the credentials back; a token
 * they no longer accept is refused (and the object forgets the agent), otherwise the object has them
 * as of now. Throws the 401 for a refused token, and the database's error (the object told).
 */
export async function writeGatedHeartbeat(
  db: AnyDatabase,
  namespace: DoorbellNamespace,
  agent: { agentId: string; deploymentHash: string; heartbeat: GatedHeartbeat },
): Promise<void> {
  let row: AgentRow | undefined;
  try {
    [row] = await flushHeartbeats(db, [agent.agentId]);
  } catch (error) {
    await heartbeatNotWritten(namespace, agent);
    throw error;
  }
  if (!(await storeHeartbeatRow(namespace, agent, row))) throw unauthorized('Invalid agent credentials');
}

function sameCredentials(row: CachedAgent, cached: CachedCredentials): boolean {
  return row.tokenHash === cached.tokenHash && row.previousTokenHash === cached.previousTokenHash && row.previousTokenExpiresAt === cached.previousTokenExpiresAt;
}

/**
 * What a heartbeat write read back goes to the object: the credentials as of now when they still
 * accept the agent's token, else the object forgets the agent. When the object handed out a claim for
 * this heartbeat and the credentials are those it vouched with, it already has them as of now: no
 * call. Says whether they accept the token.
 */
async function storeHeartbeatRow(
  namespace: DoorbellNamespace,
  agent: { deploymentHash: string; heartbeat: GatedHeartbeat },
  row: AgentRow | undefined,
): Promise<boolean> {
  const stub = doorbellStub(namespace, agent.deploymentHash);
  if (!row || row.deploymentHash !== agent.deploymentHash || !rowAccepts(row, agent.heartbeat.tokenHash)) {
    await stub.forgetAgents().catch(() => undefined);
    return false;
  }
  const entry = cachedFrom(row);
  if (agent.heartbeat.claim && sameCredentials(entry, agent.heartbeat.claim.credentials)) return true;
  await stub.agentPrime(entry, agent.heartbeat.epoch).catch(() => undefined);
  return true;
}

/** The write of a claimed heartbeat failed: the object puts the entry back, so the next poll writes it. */
async function heartbeatNotWritten(namespace: DoorbellNamespace, agent: { agentId: string; deploymentHash: string; heartbeat: GatedHeartbeat }): Promise<void> {
  const claim = agent.heartbeat.claim;
  if (!claim) return;
  const { markedAt, heartbeatAt, checkedAt } = claim;
  await doorbellStub(namespace, agent.deploymentHash)
    .heartbeatNotWritten(agent.agentId, { markedAt, heartbeatAt, checkedAt })
    .catch(() => undefined);
}

// Heartbeats written beside waits are gathered per isolate: a burst of first polls (a fleet
// starting, an object restarting) would otherwise open a Postgres connection per agent at once, and
// past a few hundred those connections time out. At most HEARTBEAT_WRITERS requests write at a
// time, each taking up to HEARTBEAT_BATCH agents per statement until the queue is empty.
export const HEARTBEAT_WRITERS = 4;
export const HEARTBEAT_BATCH = 200;

interface QueuedHeartbeat {
  agentId: string;
  written: (row: AgentRow | undefined) => void;
  failed: (error: unknown) => void;
}
const heartbeatQueue: QueuedHeartbeat[] = [];
let heartbeatWriters = 0;

/**
 * Writes queued heartbeats on a connection of this request's own, until the queue is empty. The
 * count of writers goes down in the same turn as the queue is seen empty, so an entry queued after
 * that starts a writer of its own and is never left behind.
 */
async function writeQueuedHeartbeats(database: RequestDatabase): Promise<void> {
  const own = database.detached();
  try {
    for (;;) {
      const batch = heartbeatQueue.splice(0, HEARTBEAT_BATCH);
      if (batch.length === 0) {
        heartbeatWriters--;
        return;
      }
      try {
        const rows = new Map((await flushHeartbeats(own.db, batch.map((entry) => entry.agentId))).map((row) => [row.id, row]));
        for (const entry of batch) entry.written(rows.get(entry.agentId));
      } catch (error) {
        for (const entry of batch) entry.failed(error);
      }
    }
  } finally {
    await own.close();
  }
}

/**
 * The heartbeat of a wait whose credentials are fresh, written beside the wait (waitUntil), in a
 * batch with the other agents' heartbeats queued in this isolate: the agent is not kept waiting for
 * it. A failure is logged; the next poll tries again, and once the credentials are a minute old the
 * write comes before the answer again.
 */
export async function writeHeartbeatBeside(
  database: RequestDatabase,
  namespace: DoorbellNamespace,
  agent: { agentId: string; deploymentHash: string; heartbeat: GatedHeartbeat },
): Promise<void> {
  const written = new Promise<AgentRow | undefined>((resolve, reject) => heartbeatQueue.push({ agentId: agent.agentId, written: resolve, failed: reject }));
  // A writer started here runs in this request's context, so this request waits for it to finish.
  let writer: Promise<void> | undefined;
  if (heartbeatWriters < HEARTBEAT_WRITERS) {
    heartbeatWriters++;
    writer = writeQueuedHeartbeats(database);
  }
  try {
    let row: AgentRow | undefined;
    try {
      row = await written;
    } catch (error) {
      await heartbeatNotWritten(namespace, agent);
      throw error;
    }
    await storeHeartbeatRow(namespace, agent, row);
  } catch (error) {
    log('warn', 'agent heartbeat not written; the next poll tries again', { deploymentHash: agent.deploymentHash, ...describeError(error) });
  } finally {
    await writer?.catch(() => undefined);
  }
}
