import type { Command } from '../../db/schema.ts';
import type { Doorbell } from './doorbell.ts';

/**
 * The agent's long-poll: claim a command; if there is none, wait on the deployment's doorbell and
 * claim again when it rings, until `timeoutMs` passes. No query runs while waiting.
 */
export async function waitForCommand(options: {
  claim: () => Promise<Command | undefined>;
  doorbell: Doorbell;
  deploymentHash: string;
  /** When the wait ends, counted from the request's arrival (not from when waiting began). */
  deadline: number;
  /** Called before each wait on the doorbell: lets go of the database connection. */
  beforeWait?: () => Promise<void>;
}): Promise<Command | undefined> {
  const found = await options.claim();
  if (found) return found;
  const deadline = options.deadline;
  if (deadline - Date.now() <= 0) return undefined;
  let listener = await options.doorbell.listen(options.deploymentHash, 'commands', deadline - Date.now());
  try {
    // Claim once more now that we listen: a command queued since the first claim is not missed.
    let next = await options.claim();
    while (!next) {
      await options.beforeWait?.();
      const rung = await listener.rung;
      listener.close();
      if (!rung) return undefined;
      const remaining = deadline - Date.now();
      if (remaining > 0) listener = await options.doorbell.listen(options.deploymentHash, 'commands', remaining);
      next = await options.claim();
      if (remaining <= 0) break;
    }
    return next;
  } finally {
    listener.close();
  }
}
