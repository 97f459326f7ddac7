// A deployment's event log (deployment_event): appended in the same transaction as the change it
// records, read in order after a cursor, and waited for on the deployment's doorbell (topic 'status': rung on every event).
import type { PgUpdateSetSource } from 'drizzle-orm/pg-core';
import { and, asc, eq, gt, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { deployment, deploymentEvent, type DeploymentEvent } from '../../db/schema.ts';
import type { Doorbell } from './doorbell.ts';

// `server`: a server Stacker created in the user's cloud was deleted, kept, or its deletion failed; not
// the deployment's own status (which its progress events carry).
export const EVENT_KINDS = ['created', 'progress', 'cancelled', 'timed_out', 'agent', 'command', 'app_status', 'server'] as const;
export type EventKind = (typeof EVENT_KINDS)[number];

export interface NewEvent {
  kind: EventKind;
  status?: string | null;
  progress?: number | null;
  message?: string | null;
  subject?: string | null;
}

export interface EventView {
  seq: number;
  at: string;
  kind: string;
  status: string | null;
  progress: number | null;
  message: string | null;
  subject: string | null;
}

export const MAX_EVENTS_PAGE = 200;
export const MAX_EVENTS_WAIT_SECONDS = 25;

export function toEventView(row: DeploymentEvent): EventView {
  return { seq: row.seq, at: row.at.toISOString(), kind: row.kind, status: row.status, progress: row.progress, message: row.message, subject: row.subject };
}

/**
 * Appends events to one deployment, numbered after its last. Run it inside the transaction of the
 * change it records: the counter's row lock orders concurrent writers, and a rollback takes the
 * events with it.
 */
export async function appendEvents(db: AnyDatabase, target: number | { hash: string }, events: NewEvent[], alsoSet?: PgUpdateSetSource<typeof deployment>): Promise<number> {
  if (events.length === 0) return 0;
  const [counter] = await db
    .update(deployment)
    .set({ ...alsoSet, eventSeq: sql`${deployment.eventSeq} + ${events.length}` })
    .where(typeof target === 'number' ? eq(deployment.id, target) : eq(deployment.deploymentHash, target.hash))
    .returning({ id: deployment.id, last: deployment.eventSeq });
  if (!counter) return 0;
  const first = counter.last - events.length + 1;
  await db.insert(deploymentEvent).values(
    events.map((event, index) => ({
      deploymentId: counter.id,
      seq: first + index,
      kind: event.kind,
      status: event.status ?? null,
      progress: event.progress ?? null,
      message: event.message?.slice(0, 4000) ?? null,
      subject: event.subject?.slice(0, 200) ?? null,
    })),
  );
  return counter.last;
}

/** The events after `after`, oldest first, at most `limit`. */
export async function listEvents(db: AnyDatabase, deploymentId: number, after: number, limit = MAX_EVENTS_PAGE): Promise<DeploymentEvent[]> {
  return db
    .select()
    .from(deploymentEvent)
    .where(and(eq(deploymentEvent.deploymentId, deploymentId), gt(deploymentEvent.seq, after)))
    .orderBy(asc(deploymentEvent.seq))
    .limit(limit);
}

/**
 * Reads the events after `after`; when there are none and `deadline` is later, holds on the
 * doorbell until one is appended (no query while waiting) or the deadline passes.
 */
export async function waitForEvents(options: {
  doorbell: Doorbell;
  deploymentHash: string;
  deadline: number;
  read: () => Promise<DeploymentEvent[]>;
  /** Called before each wait on the doorbell: lets go of the database connection. */
  beforeWait?: () => Promise<void>;
}): Promise<DeploymentEvent[]> {
  let found = await options.read();
  if (found.length > 0 || options.deadline <= Date.now()) return found;
  let listener = await options.doorbell.listen(options.deploymentHash, 'status', Math.max(0, options.deadline - Date.now()));
  try {
    // Read again after listening: an event appended between the first read and the listen is not missed.
    found = await options.read();
    while (found.length === 0) {
      await options.beforeWait?.();
      const rung = await listener.rung;
      listener.close();
      const remaining = options.deadline - Date.now();
      if (!rung || remaining <= 0) return options.read();
      listener = await options.doorbell.listen(options.deploymentHash, 'status', remaining);
      found = await options.read();
    }
    return found;
  } finally {
    listener.close();
  }
}

/** How long, in words, from one time to another ("12 min", "1 h 5 min", "40 s"). */
export function durationBetween(from: Date, to: Date): string {
  const seconds = Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h${minutes % 60 ? ` ${minutes % 60} min` : ''}`;
}
