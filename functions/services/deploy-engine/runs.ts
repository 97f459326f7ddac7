// The engine's runs as others see them: the cron's sweep for lost wake-ups, the operations of a
// deployment, its commands withdrawn, and which run a reported command belongs to.
import { and, desc, eq, inArray, lt, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../../db/client.ts';
import { commands, deployment, deploymentOperation, type Command, type DeploymentOperation } from '../../../db/schema.ts';

/** The `created_by` of the engine's own commands (users' commands carry their user id). */
export const ENGINE_CREATOR = 'stacker-engine';


/** Deployments whose running operation should have been looked at a while ago (a wake-up was lost). */
export async function overdueOperations(db: AnyDatabase, graceSeconds = 30): Promise<Array<{ deploymentId: number; deploymentHash: string }>> {
  return db
    .select({ deploymentId: deploymentOperation.deploymentId, deploymentHash: deployment.deploymentHash })
    .from(deploymentOperation)
    .innerJoin(deployment, eq(deployment.id, deploymentOperation.deploymentId))
    .where(and(eq(deploymentOperation.status, 'running'), lt(deploymentOperation.wakeAt, sql`now() - make_interval(secs => ${graceSeconds})`)))
    .limit(500);
}

/** The engine's operations of a deployment, newest first. */
export async function listOperations(db: AnyDatabase, deploymentId: number): Promise<DeploymentOperation[]> {
  return db.select().from(deploymentOperation).where(eq(deploymentOperation.deploymentId, deploymentId)).orderBy(desc(deploymentOperation.id)).limit(50);
}

/** Withdraws the engine's commands that no agent took yet (a cancelled or replaced operation). */
export async function withdrawQueuedCommands(db: AnyDatabase, deploymentHash: string): Promise<number> {
  const withdrawn = await db
    .update(commands)
    .set({ status: 'cancelled', updatedAt: sql`now()` })
    .where(and(eq(commands.deploymentHash, deploymentHash), eq(commands.createdBy, ENGINE_CREATOR), inArray(commands.status, ['queued'])))
    .returning({ id: commands.id });
  return withdrawn.length;
}

/** The deployment whose engine run queued this command (its report wakes that run); undefined for users' commands. */
export function engineDeploymentOf(command: Pick<Command, 'createdBy' | 'metadata'>): number | undefined {
  if (command.createdBy !== ENGINE_CREATOR) return undefined;
  const id = (command.metadata as { engine?: { deployment?: unknown } } | null)?.engine?.deployment;
  return typeof id === 'number' ? id : undefined;
}

/** The agent said success but listed warnings (see recordReport): the step went through. */
export function succeededWithWarnings(command: Command): boolean {
  return command.status === 'failed' && (command.metadata as { reported_status?: unknown } | null)?.reported_status === 'success';
}

export function commandError(command: Command): string {
  if (command.status === 'expired') return 'the agent took it but never reported (expired)';
  if (command.status === 'cancelled') return 'it was cancelled';
  const error = command.error as unknown;
  const text = typeof error === 'string' ? error : error && typeof error === 'object' && 'error' in error ? String((error as { error: unknown }).error) : JSON.stringify(error);
  return (text ?? 'no reason given').slice(0, 500);
}

export function earliest(...dates: Array<Date | null | undefined>): Date | null {
  const times = dates.filter((date): date is Date => date instanceof Date).map((date) => date.getTime());
  return times.length > 0 ? new Date(Math.min(...times)) : null;
}
