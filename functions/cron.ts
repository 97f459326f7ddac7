// The cron trigger (wrangler.toml [triggers]): the jobs that make sure nothing is lost or stuck.
import { RequestDatabase } from '../db/client.ts';
import { configFromBindings, requireSetting } from './config.ts';
import type { Bindings } from './http/env.ts';
import { describeError, log, setLogLevel } from './logger.ts';
import { pruneAgentRequestIds } from './services/agent-signature.ts';
import { pruneClientNonces } from './services/client-signature.ts';
import { deploymentsWithStaleQueue, expireCommandLeases } from './services/commands.ts';
import { expireOverdueDeployments } from './services/deployments.ts';
import { pendingServerDeletions } from './services/deploy-engine/cloud-server.ts';
import { overdueOperations } from './services/deploy-engine/runs.ts';
import { durableDoorbell, wakeEngine } from './services/doorbell.ts';
import { publishDueJobs } from './services/outbox.ts';
import { publisherFromConfig } from './services/queue.ts';

export interface ScheduledReport {
  timedOut: number;
  /** Delivered commands whose lease ended: queued again, or expired. */
  requeued: number;
  expiredCommands: number;
  published: number;
  failed: number;
  /** Built-in engine runs whose wake-up was lost, woken again. */
  engineWoken: number;
}

export async function runScheduledJobs(env: Bindings): Promise<ScheduledReport> {
  const config = configFromBindings(env);
  setLogLevel(config.LOG_LEVEL);
  const database = new RequestDatabase({ url: requireSetting(config, 'DATABASE_URL'), wsProxy: config.DATABASE_WS_PROXY });
  const report: ScheduledReport = { timedOut: 0, requeued: 0, expiredCommands: 0, published: 0, failed: 0, engineWoken: 0 };
  try {
    await pruneAgentRequestIds(database.db); // replay protection only needs the last 10 minutes
    await pruneClientNonces(database.db); // API clients' nonces whose timestamps are past the 300 s window
    const expired = await expireOverdueDeployments(database.db);
    report.timedOut = expired.length;
    const doorbell = durableDoorbell(env.DEPLOYMENT_DOORBELL);
    await Promise.all(expired.map((hash) => doorbell.ring(hash, 'status')));

    const leases = await expireCommandLeases(database.db);
    report.requeued = leases.filter((lease) => lease.status === 'queued').length;
    report.expiredCommands = leases.length - report.requeued;
    const requeuedFor = new Set(leases.filter((lease) => lease.status === 'queued').map((lease) => lease.deploymentHash));
    // A ring that was lost is rung again: waits skip claims until one comes (deployment-doorbell.ts).
    for (const hash of await deploymentsWithStaleQueue(database.db)) requeuedFor.add(hash);
    await Promise.all([...requeuedFor].map((hash) => doorbell.ring(hash, 'commands')));
    await Promise.all([...new Set(leases.map((lease) => lease.deploymentHash))].map((hash) => doorbell.ring(hash, 'status')));

    // The built-in engine's runs: each object's alarm wakes its own; this catches one that was lost.
    // With the servers created for deployments that never ran their stack and still wait to be deleted.
    const overdue = [...(await overdueOperations(database.db)), ...(await pendingServerDeletions(database.db))];
    await Promise.all(overdue.map((run) => wakeEngine(env.DEPLOYMENT_DOORBELL, run.deploymentHash, run.deploymentId)));
    report.engineWoken = overdue.length;

    if (config.INSTALL_SERVICE_URL) {
      const result = await publishDueJobs({
        db: database.db,
        securityKey: requireSetting(config, 'SECURITY_KEY'),
        publisher: publisherFromConfig(config),
        installServiceUrl: config.INSTALL_SERVICE_URL,
      });
      report.published = result.published;
      report.failed = result.failed;
    }
    if (Object.values(report).some((count) => count > 0)) log('info', 'scheduled jobs ran', { ...report });
    return report;
  } catch (error) {
    log('error', 'scheduled jobs failed', describeError(error));
    throw error;
  } finally {
    await database.close();
  }
}
