import type { Command } from '../../db/schema.ts';
import type { Doorbell, Listener, ListenOptions } from './doorbell.ts';

export type WaitOutcome = { command: Command; superseded?: undefined } | { command?: undefined; superseded: boolean };

/**
 * The agent's long-poll: listen on the deployment's doorbell, claim a command; if there is none,
 * wait for the doorbell and claim again when it rings, until the deadline. No query runs while
 * waiting. A newer wait of the same agent ends this one (`superseded`), so an agent holds one wait
 * at a time.
 */
export async function waitForCommand(options: {
  claim: () => Promise<Command | undefined>;
  doorbell: Doorbell;
  deploymentHash: string;
  /** When the wait ends, counted from the request's arrival (not from when waiting began). */
  deadline: number;
  /** The agent waiting and when its request arrived. */
  waiter?: Required<ListenOptions>;
  /** Called before each wait on the doorbell: lets go of the database connection. */
  beforeWait?: () => Promise<void>;
  /**
   * When true and the doorbell says nothing was rung since a claim found nothing claimable, the
   * first claim is skipped (no query for an idle poll).
   */
  skipWhenCleared?: boolean;
  /** Called after the first claim found nothing claimable, with the claim version read before it. */
  claimedNothing?: (version: number) => void;
  /** The first listen, already opened (by authentication, AgentWaitOpening): started instead of a new one. */
  opened?: (timeoutMs: number) => Listener;
}): Promise<WaitOutcome> {
  const deadline = options.deadline;
  const idle = { superseded: false };
  if (deadline - Date.now() <= 0) {
    const found = await options.claim();
    return found ? { command: found } : idle;
  }
  const listen = (timeoutMs: number) => options.doorbell.listen(options.deploymentHash, 'commands', timeoutMs, options.waiter);
  let listener = options.opened ? options.opened(deadline - Date.now()) : await listen(deadline - Date.now());
  try {
    if (listener.superseded) return { superseded: true };
    // Listening before the first claim: a command queued before it is claimed now, one queued after
    // it rings the doorbell. One query for a poll that finds nothing.
    const state = listener.claim;
    let next: Command | undefined;
    if (!(options.skipWhenCleared && state && !state.claimable)) {
      next = await options.claim();
      if (!next && state) options.claimedNothing?.(state.version);
    }
    while (!next) {
      await options.beforeWait?.();
      const rung = await listener.rung;
      listener.close();
      if (listener.superseded) return { superseded: true };
      if (!rung) return idle;
      const remaining = deadline - Date.now();
      if (remaining > 0) listener = await listen(remaining);
      next = await options.claim();
      if (remaining <= 0) break;
    }
    return next ? { command: next } : idle;
  } finally {
    listener.close();
  }
}
