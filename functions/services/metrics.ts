// Counters operators watch: deployments and commands by status, the outbox backlog, agents online.
import { count, isNull, min, max, sql } from 'drizzle-orm';
import type { AnyDatabase } from '../../db/client.ts';
import { agents, commands, deployOutbox, deployment } from '../../db/schema.ts';
import { HEARTBEAT_EVERY_SECONDS, OFFLINE_AFTER_SECONDS } from './agents.ts';

export interface Metrics {
  deployments: Record<string, number>;
  commands: Record<string, number>;
  outbox: { backlog: number; oldest_age_seconds: number | null; most_attempts: number };
  agents: { total: number; online: number };
  generated_at: string;
}

const byStatus = (rows: Array<{ status: string; n: number }>) => Object.fromEntries(rows.map((row) => [row.status, Number(row.n)]));

export async function collectMetrics(db: AnyDatabase): Promise<Metrics> {
  const onlineSince = sql`now() - make_interval(secs => ${OFFLINE_AFTER_SECONDS + HEARTBEAT_EVERY_SECONDS})`;
  const [deploymentRows, commandRows, outboxRows, agentRows] = await Promise.all([
    db.select({ status: deployment.status, n: count() }).from(deployment).groupBy(deployment.status),
    db.select({ status: commands.status, n: count() }).from(commands).groupBy(commands.status),
    db
      .select({ backlog: count(), oldest: min(deployOutbox.createdAt), mostAttempts: max(deployOutbox.attempts) })
      .from(deployOutbox)
      .where(isNull(deployOutbox.publishedAt)),
    db.select({ total: count(), online: sql<number>`count(*) filter (where ${agents.lastHeartbeat} >= ${onlineSince})` }).from(agents),
  ]);
  const outbox = outboxRows[0];
  const oldest = outbox?.oldest ? new Date(outbox.oldest) : undefined;
  return {
    deployments: byStatus(deploymentRows),
    commands: byStatus(commandRows),
    outbox: {
      backlog: Number(outbox?.backlog ?? 0),
      oldest_age_seconds: oldest ? Math.max(0, Math.round((Date.now() - oldest.getTime()) / 1000)) : null,
      most_attempts: Number(outbox?.mostAttempts ?? 0),
    },
    agents: { total: Number(agentRows[0]?.total ?? 0), online: Number(agentRows[0]?.online ?? 0) },
    generated_at: new Date().toISOString(),
  };
}
