// The engine's commands to the agent: each step's command is queued once (keyed by deployment,
// operation, revision and step), however often the step runs, and looked at again after its lease.
import { and, eq, inArray, sql } from 'drizzle-orm';
import { commands, type Command } from '../../../db/schema.ts';
import type { Context } from './engine.ts';
import { ENGINE_CREATOR } from './runs.ts';

const LEASE_SETTLE_MS = 30_000;

/** The idempotency key of a step's command: one per deployment, operation, revision and step. */
export function commandKey(context: Context, step: string): string {
  return `engine:op${context.op.id}:r${context.op.revision ?? 0}:${step}`;
}

/**
 * The step's command, read once per engine call: the call holds the operation's row lock, so no other
 * step queues one meanwhile (a report changing its status in between is seen at the next call).
 */
export async function commandByKey(context: Context, step: string): Promise<Command | undefined> {
  const key = commandKey(context, step);
  if (context.commandsRead.has(key)) return context.commandsRead.get(key) ?? undefined;
  await readCommands(context, [step]);
  return context.commandsRead.get(key) ?? undefined;
}

/** Reads the commands of several steps in one query (e.g. a revision's deploy_app of each service). */
export async function readCommands(context: Context, steps: string[]): Promise<void> {
  const keys = steps.map((step) => commandKey(context, step)).filter((key) => !context.commandsRead.has(key));
  if (keys.length === 0) return;
  const rows = await context.tx
    .select()
    .from(commands)
    .where(and(eq(commands.deploymentHash, context.deployment.deploymentHash), eq(commands.createdBy, ENGINE_CREATOR), inArray(commands.idempotencyKey, keys)));
  for (const key of keys) context.commandsRead.set(key, rows.find((row) => row.idempotencyKey === key) ?? null);
}

/** Queues the step's command unless it exists; however often a step runs, its command is queued once. */
export async function ensureCommand(
  context: Context,
  step: string,
  type: string,
  parameters: Record<string, unknown> | (() => Promise<Record<string, unknown>>),
  timeoutSeconds: number,
): Promise<Command> {
  const existing = await commandByKey(context, step);
  if (existing) return existing;
  const [row] = await context.tx
    .insert(commands)
    .values({
      commandId: `cmd_${crypto.randomUUID()}`,
      deploymentHash: context.deployment.deploymentHash,
      type,
      priority: 'high',
      priorityRank: 2,
      parameters: typeof parameters === 'function' ? await parameters() : parameters,
      timeoutSeconds,
      metadata: { engine: { deployment: context.deployment.id, operation: context.op.id, step } },
      createdBy: ENGINE_CREATOR,
      idempotencyKey: commandKey(context, step),
      maxAttempts: 3,
      // The agent claims by created_at: the statement's clock, not the transaction's (one now() for
      // all), keeps a step's commands in the order queued (each service's deploy_app in compose order).
      createdAt: sql`clock_timestamp()`,
    })
    .onConflictDoNothing()
    .returning();
  if (!row) {
    context.commandsRead.delete(commandKey(context, step));
    return (await commandByKey(context, step))!;
  }
  context.commandsRead.set(row.idempotencyKey!, row);
  context.queued = true;
  context.events.push({ kind: 'command', status: 'queued', subject: row.commandId, message: `${type}: queued by the engine` });
  return row;
}

/**
 * When to look at a command the agent holds: just after its lease ends. A lease that already ended
 * is the cron's to settle (offered again, or expired), so look again after its next run.
 */
export function afterLease(context: Context, command: Command): Date | null {
  if (command.status === 'queued') return null;
  const lease = command.leaseExpiresAt?.getTime();
  if (lease === undefined) return null;
  return lease > context.now.getTime() ? new Date(lease + 1000) : new Date(context.now.getTime() + LEASE_SETTLE_MS);
}
