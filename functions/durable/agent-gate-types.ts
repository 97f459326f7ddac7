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
  /** When the row was last read or written (the heartbeat flush re-reads it); ms since the epoch. */
  checkedAt: number;
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

export type GateAnswer =
  /** The cache vouches for the token. `heartbeatDue`: flush (and re-read the row) now. */
  | { kind: 'ok'; heartbeatDue: boolean; epoch: number }
  /** The cache cannot vouch (unknown agent, other token, expired entry): ask Postgres, then `agentPrime`. */
  | { kind: 'miss'; epoch: number }
  | { kind: 'replay' };
