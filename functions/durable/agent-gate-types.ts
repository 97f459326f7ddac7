// What the per-deployment Durable Object remembers about its agent for the wait route's hot path
// (functions/services/agent-gate.ts): credentials, heartbeat flushes, replay ids, claimability.
// No runtime imports: the CLI (Node) reaches this through agent-tokens.ts.

/** Heartbeats reach Postgres at most this often per agent; the flush re-reads the agent's credentials. */
export const HEARTBEAT_FLUSH_MS = 60_000;

/** The agent's credentials as Postgres last said, plus when its heartbeat last reached Postgres. */
export interface CachedAgent {
  agentId: string;
  tokenHash: string;
  previousTokenHash: string | null;
  /** ms since the epoch, or null. */
  previousTokenExpiresAt: number | null;
  /** When the credentials were last read from Postgres (the heartbeat flush re-reads them); ms since the epoch. */
  checkedAt: number;
  /**
   * When the agent's heartbeat last reached Postgres (ms; 0: never). Absent in entries stored before
   * it existed: then checkedAt, which was both.
   */
  heartbeatAt?: number;
}

export interface GateRequest {
  agentId: string;
  /** SHA-256 (hex) of the presented bearer token. */
  tokenHash: string;
  /** A signed request's X-Request-Id (its signature already checked), remembered once accepted. */
  requestId?: string;
  /** Until when the id must be remembered (ms). */
  requestIdKeepUntil?: number;
}

/** The credentials of an entry: what a heartbeat's read-back is compared with. */
export type CachedCredentials = Pick<CachedAgent, 'tokenHash' | 'previousTokenHash' | 'previousTokenExpiresAt'>;

/**
 * Handed out with a heartbeat that is due: the object has already marked the heartbeat written and
 * the credentials checked as of `markedAt`, so the request that writes it need not call the object
 * again unless the row read back differs from `credentials` (then agentPrime) or the write fails
 * (then heartbeatNotWritten puts back `heartbeatAt` and `checkedAt`).
 */
export interface HeartbeatClaim {
  markedAt: number;
  heartbeatAt: number;
  checkedAt: number;
  credentials: CachedCredentials;
}

export type GateAnswer =
  /**
   * The cache vouches for the token. `heartbeatDue`: write the heartbeat (which re-reads the row).
   * `credentialsFresh`: the row was read less than HEARTBEAT_FLUSH_MS ago, so the answer need not
   * wait for that write. `claim`: present when either says a write is needed.
   */
  | { kind: 'ok'; heartbeatDue: boolean; credentialsFresh: boolean; epoch: number; claim?: HeartbeatClaim }
  /** The cache cannot vouch (unknown agent, other token, expired entry): ask Postgres, then `agentPrime`. */
  | { kind: 'miss'; epoch: number }
  | { kind: 'replay' };
