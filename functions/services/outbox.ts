// The deploy outbox: jobs are written with their deployment, then published; whatever could not be
// published is published again by the cron, with backoff. Nothing is lost and, with one
// deduplication id per job, nothing is delivered twice by us.
import { and, eq, inArray, isNull, lte, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { deployOutbox, type DeployOutboxEntry } from '../../db/schema.ts';
import { describeError, log } from '../logger.ts';
import { decryptSecret, encryptSecret } from './crypto.ts';
import type { JobPublisher } from './queue.ts';

export interface OutboxDeps {
  db: AnyDatabase;
  securityKey: Uint8Array;
  publisher: JobPublisher;
  installServiceUrl: string;
}

export type OutboxKind = 'deploy' | 'cancel';

/** How long a claimed entry is left alone before another run may try it again (a crashed publisher). */
const CLAIM_LEASE_SECONDS = 120;
const MAX_BACKOFF_SECONDS = 3_600;

export function backoffSeconds(attempts: number): number {
  return Math.min(MAX_BACKOFF_SECONDS, 15 * 2 ** Math.max(0, attempts - 1));
}

export async function sealJob(securityKey: Uint8Array, body: unknown): Promise<string> {
  return encryptSecret(securityKey, JSON.stringify(body));
}

/**
 * Values for an outbox row; insert it in the same transaction as the deployment it belongs to. The
 * deduplication id (QStash's, and the direct message id) names the deployment by its hash: a serial id
 * is unique in one database only, and two installations sharing a QStash account (staging and
 * production), or one whose database was made anew, would have a job dropped as a duplicate.
 */
export async function outboxRow(securityKey: Uint8Array, deployment: { id: number; hash: string }, kind: OutboxKind, body: unknown) {
  return {
    deploymentId: deployment.id,
    kind,
    deduplicationId: `${kind}-${deployment.hash}`,
    payloadSealed: await sealJob(securityKey, body),
  };
}

async function publishEntry(deps: OutboxDeps, entry: DeployOutboxEntry): Promise<boolean> {
  try {
    const body = await decryptSecret(deps.securityKey, entry.payloadSealed);
    const { messageId } = await deps.publisher.publish({
      url: deps.installServiceUrl,
      body,
      deduplicationId: entry.deduplicationId,
      flowControlKey: `deployment-${entry.deploymentId}`,
      headers: { 'x-stacker-job': entry.kind },
    });
    await deps.db
      .update(deployOutbox)
      .set({ publishedAt: sql`now()`, messageId, attempts: entry.attempts + 1, lastError: null })
      .where(eq(deployOutbox.id, entry.id));
    log('info', 'deploy job published', { deploymentId: entry.deploymentId, kind: entry.kind, messageId, via: deps.publisher.kind });
    return true;
  } catch (error) {
    const attempts = entry.attempts + 1;
    const problem = error instanceof Error ? error.message : String(error);
    await deps.db
      .update(deployOutbox)
      .set({ attempts, lastError: problem.slice(0, 500), nextAttemptAt: sql`now() + make_interval(secs => ${backoffSeconds(attempts)})` })
      .where(eq(deployOutbox.id, entry.id));
    log('warn', 'deploy job not published; it stays in the outbox', {
      deploymentId: entry.deploymentId,
      kind: entry.kind,
      attempts,
      ...describeError(error),
    });
    return false;
  }
}

/** Claims an entry (so two runs do not publish it together) and publishes it. */
export async function publishOutboxEntry(deps: OutboxDeps, id: number): Promise<boolean> {
  const [entry] = await deps.db
    .update(deployOutbox)
    .set({ nextAttemptAt: sql`now() + make_interval(secs => ${CLAIM_LEASE_SECONDS})` })
    .where(and(eq(deployOutbox.id, id), isNull(deployOutbox.publishedAt), lte(deployOutbox.nextAttemptAt, sql`now()`)))
    .returning();
  return entry ? publishEntry(deps, entry) : false;
}

/** The cron's part: every due, unpublished entry, oldest first. Returns how many went out. */
export async function publishDueJobs(deps: OutboxDeps, limit = 25): Promise<{ published: number; failed: number }> {
  const due = deps.db
    .select({ id: deployOutbox.id })
    .from(deployOutbox)
    .where(and(isNull(deployOutbox.publishedAt), lte(deployOutbox.nextAttemptAt, sql`now()`)))
    .orderBy(deployOutbox.id)
    .limit(limit)
    .for('update', { skipLocked: true });
  const claimed = await deps.db
    .update(deployOutbox)
    .set({ nextAttemptAt: sql`now() + make_interval(secs => ${CLAIM_LEASE_SECONDS})` })
    .where(inArray(deployOutbox.id, due))
    .returning();
  let published = 0;
  let failed = 0;
  for (const entry of claimed.sort((a, b) => a.id - b.id)) {
    if (await publishEntry(deps, entry)) published++;
    else failed++;
  }
  return { published, failed };
}
