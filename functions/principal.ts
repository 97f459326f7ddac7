import type { HeartbeatClaim } from './durable/agent-gate-types.ts';

/** Who is calling. `subject` is what casbin sees. */
export interface AuthenticatedUser {
  id: string;
  role: string;
  email: string;
  firstName?: string;
  lastName?: string;
}

export type Principal =
  | { kind: 'anonymous'; subject: 'anonym' }
  | { kind: 'user'; subject: string; user: AuthenticatedUser }
  /** An HMAC API client, acting for the user who owns it. */
  | { kind: 'client'; subject: 'client'; clientId: number; userId: string }
  /** `lastHeartbeatAt` as read when authenticating, so a poll writes a heartbeat only when one is due. */
  | {
      kind: 'agent';
      subject: 'agent';
      agentId: string;
      deploymentHash: string;
      lastHeartbeatAt: Date | null;
      /** Authenticated through the deployment's Durable Object (the wait route), which also keeps the heartbeat. */
      gated?: boolean;
      /**
       * Gated and the heartbeat is due: the route writes it (agent-gate.ts writeGatedHeartbeat),
       * before answering unless the credentials were read from Postgres within HEARTBEAT_FLUSH_MS.
       */
      heartbeat?: { tokenHash: string; epoch: number; credentialsFresh: boolean; claim?: HeartbeatClaim };
      /** A signed wait: when the agent sent it, by its X-Timestamp (ms, whole seconds; the signature checked). */
      sentAt?: number;
    };

export const ADMIN_ROLE = 'group_admin';

/** The user on whose behalf the request acts, if any (users and API clients). */
export function actingUserId(principal: Principal): string | undefined {
  if (principal.kind === 'user') return principal.user.id;
  if (principal.kind === 'client') return principal.userId;
  return undefined;
}

