import type { Deployment } from '../../db/schema.ts';
import type { Doorbell } from './doorbell.ts';

/**
 * Holds until the deployment changes (its updated_at moves past `since`) or the deadline passes, then
 * answers the latest row. No query runs while waiting: the doorbell wakes the wait.
 */
export async function waitForChange(options: {
  doorbell: Doorbell;
  deploymentHash: string;
  since: Date;
  /** When the wait ends (ms since the epoch), counted from the request's arrival. */
  deadline: number;
  read: () => Promise<Deployment>;
  /** Called before each wait on the doorbell: lets go of the database connection. */
  beforeWait?: () => Promise<void>;
}): Promise<Deployment> {
  const deadline = options.deadline;
  const changed = (row: Deployment) => row.updatedAt.getTime() > options.since.getTime();
  let listener = await options.doorbell.listen(options.deploymentHash, 'status', Math.max(0, deadline - Date.now()));
  try {
    // Read after listening: a change between the caller's read and the listen is not missed.
    let latest = await options.read();
    while (!changed(latest)) {
      await options.beforeWait?.();
      const rung = await listener.rung;
      listener.close();
      const remaining = deadline - Date.now();
      if (!rung || remaining <= 0) break;
      listener = await options.doorbell.listen(options.deploymentHash, 'status', remaining);
      latest = await options.read();
    }
    return latest;
  } finally {
    listener.close();
  }
}
