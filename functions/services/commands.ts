// The command channel: users queue commands for a deployment's agent; the agent claims them one at a
// time under a lease and reports the result. Postgres is the source of truth.
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { commands, deployment, deploymentEvent, type Command } from '../../db/schema.ts';
import { conflict, notFound } from '../errors.ts';
import { appendEvents, type NewEvent } from './deployment-events.ts';
import { findDeployment } from './deployments.ts';
import type { Scope } from './scope.ts';

export const PRIORITIES = ['low', 'normal', 'high', 'critical'] as const;
export type Priority = (typeof PRIORITIES)[number];
const PRIORITY_RANK: Record<Priority, number> = { low: 0, normal: 1, high: 2, critical: 3 };

/** Added to a command's timeout_seconds to make its lease: time to report after finishing. */
export const LEASE_GRACE_SECONDS = 30;
export const DEFAULT_MAX_ATTEMPTS = 3;

export interface CommandView {
  id: string;
  command_id: string;
  deployment_hash: string;
  type: string;
  status: string;
  priority: string;
  parameters: Record<string, unknown>;
  result: unknown;
  error: unknown;
  created_by: string;
  created_at: string;
  updated_at: string;
  timeout_seconds: number;
  metadata: Record<string, unknown> | null;
  attempts: number;
  sent_at: string | null;
  completed_at: string | null;
  lease_expires_at: string | null;
}

/** What a command's owner sees: as the agent gets it, but the values of secrets sent as env_vars masked. */
export function toOwnerCommandView(row: Command): CommandView {
  const view = toCommandView(row);
  const envVars = (view.parameters as { env_vars?: unknown }).env_vars;
  if (!envVars || typeof envVars !== 'object' || Array.isArray(envVars)) return view;
  const masked = Object.fromEntries(Object.keys(envVars).map((name) => [name, '********']));
  return { ...view, parameters: { ...view.parameters, env_vars: masked } };
}

/** A command as the agent receives it (the owner's views go through toOwnerCommandView). */
export function toCommandView(row: Command): CommandView {
  return {
    id: row.id,
    command_id: row.commandId,
    deployment_hash: row.deploymentHash,
    type: row.type,
    status: row.status,
    priority: row.priority,
    // Never null: the agent's typed commands need an object to validate (agent-protocol §5.7).
    parameters: row.parameters ?? {},
    result: row.result ?? null,
    error: row.error ?? null,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    updated_at: row.updatedAt.toISOString(),
    timeout_seconds: row.timeoutSeconds ?? 300,
    metadata: row.metadata ?? null,
    attempts: row.attempts,
    sent_at: row.sentAt?.toISOString() ?? null,
    completed_at: row.completedAt?.toISOString() ?? null,
    lease_expires_at: row.leaseExpiresAt?.toISOString() ?? null,
  };
}

/** The event a command's change adds to its deployment's log. */
const commandEvent = (row: Pick<Command, 'commandId' | 'type'>, status: string, message: string): NewEvent => ({
  kind: 'command',
  status,
  subject: row.commandId,
  message: `${row.type}: ${message}`,
});

export interface NewCommand {
  command_type: string;
  priority: Priority;
  parameters: Record<string, unknown>;
  timeout_seconds: number;
  metadata?: Record<string, unknown> | null;
}

/**
 * Queues a command for a deployment the caller may reach. With an idempotency key, the same key from
 * the same creator answers the command created the first time (`created` false).
 */
export async function createCommand(
  db: AnyDatabase,
  request: { deploymentHash: string; scope: Scope; createdBy: string; input: NewCommand; idempotencyKey?: string },
): Promise<{ command: Command; created: boolean }> {
  await findDeployment(db, { hash: request.deploymentHash }, request.scope);
  const { input } = request;
  const inserted = await db.transaction(async (tx) => {
    const [row] = await tx
    .insert(commands)
    .values({
      commandId: `cmd_${crypto.randomUUID()}`,
      deploymentHash: request.deploymentHash,
      type: input.command_type,
      priority: input.priority,
      priorityRank: PRIORITY_RANK[input.priority],
      parameters: input.parameters,
      timeoutSeconds: input.timeout_seconds,
      metadata: input.metadata ?? {},
      createdBy: request.createdBy,
      idempotencyKey: request.idempotencyKey ?? null,
      maxAttempts: DEFAULT_MAX_ATTEMPTS,
    })
    .onConflictDoNothing()
    .returning();
    if (row) await appendEvents(tx, { hash: request.deploymentHash }, [commandEvent(row, 'queued', `queued (priority ${row.priority})`)]);
    return row;
  });
  if (inserted) return { command: inserted, created: true };
  const [existing] = await db
    .select()
    .from(commands)
    .where(
      and(
        eq(commands.deploymentHash, request.deploymentHash),
        eq(commands.createdBy, request.createdBy),
        eq(commands.idempotencyKey, request.idempotencyKey ?? ''),
      ),
    )
    .limit(1);
  if (!existing) throw conflict('Command could not be created, try again');
  return { command: existing, created: false };
}

export async function listCommands(db: AnyDatabase, deploymentHash: string, scope: Scope): Promise<Command[]> {
  await findDeployment(db, { hash: deploymentHash }, scope);
  return db.select().from(commands).where(eq(commands.deploymentHash, deploymentHash)).orderBy(desc(commands.createdAt));
}

export async function getCommand(db: AnyDatabase, deploymentHash: string, commandId: string, scope: Scope): Promise<Command> {
  await findDeployment(db, { hash: deploymentHash }, scope);
  const [row] = await db
    .select()
    .from(commands)
    .where(and(eq(commands.commandId, commandId), eq(commands.deploymentHash, deploymentHash)))
    .limit(1);
  if (!row) throw notFound('Command not found');
  return row;
}

/** A queued or delivered command can be cancelled; one that has ended cannot (409). */
export async function cancelCommand(db: AnyDatabase, deploymentHash: string, commandId: string, scope: Scope): Promise<Command> {
  const current = await getCommand(db, deploymentHash, commandId, scope);
  const row = await db.transaction(async (tx) => {
    const [cancelled] = await tx
      .update(commands)
      .set({ status: 'cancelled', leaseExpiresAt: null, updatedAt: sql`now()` })
      .where(and(eq(commands.id, current.id), inArray(commands.status, ['queued', 'sent', 'executing'])))
      .returning();
    if (cancelled) await appendEvents(tx, { hash: deploymentHash }, [commandEvent(cancelled, 'cancelled', 'cancelled')]);
    return cancelled;
  });
  if (!row) throw conflict(`Cannot cancel command with status '${current.status}'`);
  return row;
}

/**
 * Hands the deployment's next command to its agent: highest priority, then oldest; a delivered
 * command whose lease ended counts as queued again while it has attempts left. One statement with
 * SKIP LOCKED, so two polls never take the same command.
 */
export async function claimNextCommand(db: AnyDatabase, deploymentHash: string): Promise<Command | undefined> {
  return (await claimNextCommandWithState(db, deploymentHash)).command;
}

/**
 * claimNextCommand, and whether anything is left that a later claim could take (`pending`: a queued
 * command, including one another claim holds locked, or a delivered one that may be offered again
 * when its lease ends). When nothing is claimed and nothing is pending, the deployment's doorbell may
 * skip claims until the next 'commands' ring.
 */
/** A command of the deployment that a claim may take now or later: queued, or leased and not out of attempts. */
function pendingFor(deploymentHash: string) {
  return sql`${commands.deploymentHash} = ${deploymentHash}
    and (${commands.status} = 'queued' or (${commands.status} = 'sent' and ${commands.attempts} < ${commands.maxAttempts}))`;
}

/** Whether a claim could ever find something for the deployment (as `pending` in claimNextCommandWithState). */
export async function hasPendingCommands(db: AnyDatabase, deploymentHash: string): Promise<boolean> {
  const [row] = await db.select({ id: commands.id }).from(commands).where(pendingFor(deploymentHash)).limit(1);
  return row !== undefined;
}

export async function claimNextCommandWithState(db: AnyDatabase, deploymentHash: string): Promise<{ command: Command | undefined; pending: boolean }> {
  // One statement: the claim and its event in the log, atomically; an idle poll (nothing to claim)
  // costs this statement alone. The row is read back only when a command was claimed.
  // Both drivers (Neon's and node-postgres) answer raw statements with `{ rows }`.
  const claimed = (await db.execute(sql`
    with next as (
      select ${commands.id} from ${commands}
      where ${commands.deploymentHash} = ${deploymentHash}
        and (${commands.status} = 'queued' or (${commands.status} = 'sent' and ${commands.leaseExpiresAt} < now() and ${commands.attempts} < ${commands.maxAttempts}))
      order by ${commands.priorityRank} desc, ${commands.createdAt}
      limit 1
      for update skip locked
    ), claimed as (
      update ${commands} set
        status = 'sent',
        sent_at = now(),
        attempts = attempts + 1,
        lease_expires_at = now() + make_interval(secs => coalesce(timeout_seconds, 300) + ${LEASE_GRACE_SECONDS}),
        updated_at = now()
      where id in (select id from next)
      returning id, command_id, type, attempts
    ), counter as (
      update ${deployment} set event_seq = event_seq + 1
      where deployment_hash = ${deploymentHash} and exists (select 1 from claimed)
      returning id, event_seq
    ), logged as (
      insert into ${deploymentEvent} (deployment_id, seq, kind, status, subject, message)
      select counter.id, counter.event_seq, 'command', 'sent', claimed.command_id, claimed.type || ': taken by the agent (attempt ' || claimed.attempts || ')'
      from counter, claimed
    )
    select (select id from claimed) as id, exists (
      -- The statement's snapshot: rows locked by another claim still read as queued here.
      select 1 from ${commands} where ${pendingFor(deploymentHash)}
    ) as pending`)) as unknown as { rows: Array<{ id: string | null; pending: boolean }> };
  const id = claimed.rows[0]?.id ?? undefined;
  const pending = claimed.rows[0]?.pending !== false;
  if (id === undefined) return { command: undefined, pending };
  const [row] = await db.select().from(commands).where(eq(commands.id, id)).limit(1);
  return { command: row, pending: true };
}

export interface AgentReport {
  command_id: string;
  deployment_hash: string;
  status: string;
  result?: unknown;
  error?: unknown;
  errors?: unknown[];
  executed_by?: string;
  started_at?: string;
  completed_at: string;
}

/** The agent's words for the outcome: success/completed → completed; failed, or any errors → failed. */
export function outcomeOf(report: Pick<AgentReport, 'status' | 'errors'>): 'completed' | 'failed' {
  if (report.status === 'failed' || (report.errors && report.errors.length > 0)) return 'failed';
  return 'completed';
}

/**
 * Records an agent's report. Another deployment's command is 404. The same report twice is accepted
 * once and answered the same; a cancelled, expired or differently finished command is not overwritten (409).
 */
export async function recordReport(db: AnyDatabase, agentDeploymentHash: string, report: AgentReport): Promise<{ command: Command; duplicate: boolean }> {
  if (report.deployment_hash !== agentDeploymentHash) throw notFound('Command not found for this deployment');
  const outcome = outcomeOf(report);
  const completedAt = new Date(report.completed_at);
  const error = report.errors && report.errors.length > 0 ? { error: report.error ?? null, errors: report.errors } : (report.error ?? null);
  // The agent's own word is kept: v0.2.1 reports `success` with warnings in `errors` (a pull that
  // failed while the image was already there), which the outcome counts as failed.
  const said: Record<string, unknown> = { ...(report.executed_by && { executed_by: report.executed_by }), reported_status: report.status };
  // The usual case in one statement: the command, still open, takes the report.
  const row = await db.transaction(async (tx) => {
    const [reported] = await tx
      .update(commands)
      .set({
        status: outcome,
        result: report.result ?? null,
        error,
        completedAt,
        startedAt: report.started_at ? new Date(report.started_at) : sql`${commands.startedAt}`,
        leaseExpiresAt: null,
        metadata: sql`coalesce(${commands.metadata}, '{}'::jsonb) || ${JSON.stringify(said)}::jsonb`,
        updatedAt: sql`now()`,
      })
      .where(and(eq(commands.commandId, report.command_id), eq(commands.deploymentHash, agentDeploymentHash), inArray(commands.status, ['queued', 'sent', 'executing'])))
      .returning();
    if (reported) await appendEvents(tx, { hash: agentDeploymentHash }, [commandEvent(reported, outcome, `${outcome} (reported by the agent)`)]);
    return reported;
  });
  if (row) return { command: row, duplicate: false };
  // Not open: another deployment's (404), the same report again (answered the same), or finished otherwise (409).
  const [current] = await db
    .select()
    .from(commands)
    .where(and(eq(commands.commandId, report.command_id), eq(commands.deploymentHash, agentDeploymentHash)))
    .limit(1);
  if (!current) throw notFound('Command not found for this deployment');
  if (current.status === outcome && current.completedAt?.getTime() === completedAt.getTime()) return { command: current, duplicate: true };
  throw conflict(`Command is already ${current.status}; the report was not applied`);
}

/** The cron's part: delivered commands whose lease ended go back to the queue, or end expired. */
export async function expireCommandLeases(db: AnyDatabase): Promise<Array<{ deploymentHash: string; status: string }>> {
  return db.transaction(async (tx) => {
    const rows = await tx
      .update(commands)
      .set({
        status: sql`case when ${commands.attempts} >= ${commands.maxAttempts} then 'expired' else 'queued' end`,
        leaseExpiresAt: null,
        updatedAt: sql`now()`,
      })
      .where(and(eq(commands.status, 'sent'), lt(commands.leaseExpiresAt, sql`now()`)))
      .returning({ deploymentHash: commands.deploymentHash, status: commands.status, commandId: commands.commandId, type: commands.type });
    for (const row of rows) {
      const said = row.status === 'expired' ? 'expired: no report before its last lease ended' : 'no report before its lease ended; offered again';
      await appendEvents(tx, { hash: row.deploymentHash }, [commandEvent(row, row.status, said)]);
    }
    return rows.map(({ deploymentHash, status }) => ({ deploymentHash, status }));
  });
}

/**
 * The cron's safety net for the doorbell's claim version: deployments with a command queued for a
 * while. Their 'commands' ring may have been lost (the object unreachable when it was rung), and a
 * wait skips claims until a ring; the cron rings them again, so a lost ring delays a command by at
 * most about a minute, never forever.
 */
export async function deploymentsWithStaleQueue(db: AnyDatabase, olderThanSeconds = 30): Promise<string[]> {
  const rows = await db
    .selectDistinct({ deploymentHash: commands.deploymentHash })
    .from(commands)
    .where(and(eq(commands.status, 'queued'), lt(commands.updatedAt, sql`now() - make_interval(secs => ${olderThanSeconds})`)))
    .limit(1000);
  return rows.map((row) => row.deploymentHash);
}
