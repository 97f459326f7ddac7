// The built-in deploy engine under load: N own-server deployments (all at once, or --batch at a time), each enrolled with its
// install command's secret and driven by an agent stand-in, to completed. Counted: deployments that did
// not complete (stuck), and engine commands queued more than once (rows of `commands` sharing a
// deployment and idempotency key). Measured: the control plane's time from an agent's report to the
// next step's command reaching the agent.
//   node bench/deploy-engine.ts [--deployments 200] [--batch N] [--deadline 300] [--agent-work S|MIN-MAX]
//                               [--host wrangler|miniflare] [--postgres private|shared] [--code-from DIR]
//   (or BENCH_DEPLOYMENTS, BENCH_BATCH, BENCH_DEADLINE, BENCH_AGENT_WORK, BENCH_HOST, BENCH_POSTGRES)
// --agent-work: each agent stand-in takes that many seconds (uniform in MIN-MAX) per deploy_app before
// reporting it, as a real agent's pull and start do (default 0: every report at once, a burst).
// --batch N: the deployments start N at a time, each batch once the ones before it have ended (default:
// all at once), for the latency of a control plane that is not saturated.
// Each deployment: a project of two services (nginx on 8080, postgres with a password, so a secret
// travels as env_vars), POST /project/{id}/deploy with {"cloud":{"provider":"own"}} (all at once),
// then what the install script does with its secret, POST /install/{secret}/enroll, and the agent it
// would start: the agent stand-in (scripts/stand-ins/agent.ts, the real agent's signed long-poll and
// result shapes; its files under a temporary STACKER_INSTALL_ROOT per server), in this process. The
// engine queues one deploy_app per service at enrollment, and `health` ("all") once the last deploy_app
// is reported; the health report completes the deployment.
// The report's route takes the step it causes (health after the last deploy_app) before answering.
// Measured for that step:
//   - from the report recorded (the commit of its transaction) to the commit of the step that queued
//     health (claimable from then on): both commit timestamps (track_commit_timestamp), one clock;
//   - from the report sent by the agent (this process's wall clock) to that commit, and the report's
//     round trip;
// and, on this process's clock, from the agents' own requests (a wrapper around fetch):
//   - report -> next command: the report of the last deploy_app answered, to the wait answer carrying
//     the health command arrived;
//   - the same, to the commit of the engine's transaction that queued it (the command claimable from
//     then on): the commit timestamp (track_commit_timestamp on the private PostgreSQL) of the
//     command's `queued` event, written in that transaction and never updated (the command's own row
//     is, when it is claimed and reported). Postgres' clock against this process's wall clock, one
//     machine; also to that transaction's start (the command's `created_at`);
//   - the agent's next wait, sent right after its report, to the health command arriving in its answer;
//   - enrollment -> first command: the enrollment's answer to the first deploy_app arriving at its agent
//     (the agent stand-in starts when its enrollment is answered).
// The service runs from a snapshot of the tree (`wrangler dev` restarts on every edit), or from
// --code-from DIR (e.g. `git archive HEAD | tar -x -C DIR`: a commit, whatever others are editing), on a private
// PostgreSQL with max_connections 1000 (`--postgres shared`: the server at DATABASE_URL), rate limits off.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { runAgentStandIn, type AgentStandInHandle } from '../scripts/stand-ins/agent.ts';
import { eachLimited, ms, percentile, shellQuote, sleep } from './lib/measure.ts';
import { describeHost, machine, RATE_LIMITS_OFF, startService, type WorkerHost } from './lib/service.ts';

const OWNER = 'benchengineowner';
const OWNER_HEADERS = { authorization: `Bearer user-group_user-${OWNER}`, 'content-type': 'application/json' };
const SERVER_IP = '203.0.113.10';

function settings() {
  const usage = 'usage: node bench/deploy-engine.ts [--deployments n] [--batch n] [--deadline s] [--agent-work s|min-max] [--host wrangler|miniflare] [--postgres private|shared] [--code-from dir]';
  try {
    const { values } = parseArgs({
      options: { deployments: { type: 'string' }, batch: { type: 'string' }, deadline: { type: 'string' }, host: { type: 'string' }, postgres: { type: 'string' }, 'code-from': { type: 'string' }, 'agent-work': { type: 'string' } },
    });
    const deployments = Number(values.deployments ?? process.env.BENCH_DEPLOYMENTS ?? 200);
    const batch = Number(values.batch ?? process.env.BENCH_BATCH ?? deployments);
    const deadline = Number(values.deadline ?? process.env.BENCH_DEADLINE ?? 300);
    const host = (values.host ?? process.env.BENCH_HOST ?? 'wrangler') as WorkerHost;
    const postgres = values.postgres ?? process.env.BENCH_POSTGRES ?? 'private';
    const work = /^(\d+)(?:-(\d+))?$/.exec(values['agent-work'] ?? process.env.BENCH_AGENT_WORK ?? '0');
    const agentWork = work ? { min: Number(work[1]), max: Number(work[2] ?? work[1]) } : undefined;
    if ([deployments, batch, deadline].every((n) => Number.isInteger(n) && n > 0) && ['wrangler', 'miniflare'].includes(host) && ['private', 'shared'].includes(postgres) && agentWork && agentWork.min <= agentWork.max) {
      return { deployments, batch: Math.min(batch, deployments), deadline, host, postgres, codeFrom: values['code-from'], agentWork };
    }
    console.error(`${usage} (whole numbers above 0)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const { deployments: count, batch, deadline, host, postgres, codeFrom, agentWork } = settings();
const command = [
  ...['BENCH_DEPLOYMENTS', 'BENCH_BATCH', 'BENCH_DEADLINE', 'BENCH_HOST', 'BENCH_POSTGRES', 'BENCH_AGENT_WORK'].flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : [])),
  'node bench/deploy-engine.ts',
  ...process.argv.slice(2).map(shellQuote),
].join(' ');

const service_ = (code: string, type: string, image: string, ports: Array<{ host_port: string; container_port: string }>, environment: Array<{ key: string; value: string }>) => ({
  _id: code, name: code, code, type, dockerhub_name: image, restart: 'always', custom: true, shared_ports: ports, environment, volumes: [], network: [],
});

function projectForm(name: string) {
  return {
    custom: {
      custom_stack_code: name,
      project_name: name,
      web: [service_('web', 'web', 'nginx:1.27', [{ host_port: '8080', container_port: '80' }], [])],
      service: [service_('database', 'service', 'postgres:16', [], [{ key: 'POSTGRES_PASSWORD', value: randomBytes(12).toString('hex') }])],
      feature: [],
      networks: [],
    },
  };
}

/** What an agent's requests brought, per deployment, on this process's clock (performance.now()) and the wall clock. */
interface Seen {
  kind: 'received' | 'reported' | 'polled';
  commandId: string;
  type?: string;
  at: number;
  wallAt: number;
  /** A report: when it was sent (the wall clock). */
  sentWallAt?: number;
}
const timelines = new Map<string, Seen[]>();
const record = (hash: string, seen: Seen) => {
  const list = timelines.get(hash) ?? [];
  list.push(seen);
  timelines.set(hash, list);
};

/**
 * The agent stand-ins call the global fetch: each of their waits that brings a command and each report
 * is recorded when its whole answer has arrived (the body read here, handed on unchanged).
 */
function recordAgentRequests(): void {
  const realFetch = globalThis.fetch;
  globalThis.fetch = async (input: string | URL | Request, init?: RequestInit) => {
    const url = String(input instanceof Request ? input.url : input);
    const wait = /\/api\/v1\/agent\/commands\/wait\/([^/?]+)/.exec(url);
    const report = url.endsWith('/api/v1/agent/commands/report');
    if (wait) record(wait[1]!, { kind: 'polled', commandId: '', at: performance.now(), wallAt: Date.now() });
    const sentWallAt = Date.now();
    const response = await realFetch(input, init);
    if (!wait && !report) return response;
    const text = await response.text();
    const at = performance.now();
    const wallAt = Date.now();
    if (wait && response.status === 200) {
      const item = (JSON.parse(text) as { item?: { command_id?: string; type?: string } | null }).item;
      if (item?.command_id) record(wait[1]!, { kind: 'received', commandId: item.command_id, type: item.type, at, wallAt });
    }
    if (report && response.status === 200) {
      const body = JSON.parse(String(init?.body)) as { command_id: string; deployment_hash: string };
      record(body.deployment_hash, { kind: 'reported', commandId: body.command_id, at, wallAt, sentWallAt });
    }
    return new Response(text, { status: response.status, statusText: response.statusText, headers: response.headers });
  };
}

async function api<T>(base: string, path: string, init: { method?: string; body?: unknown } = {}): Promise<{ status: number; body: T }> {
  const response = await fetch(`${base}${path}`, { method: init.method ?? 'GET', headers: OWNER_HEADERS, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: response.status, body: (await response.json()) as T };
}

interface Started {
  projectId: number;
  deploymentId: number;
  hash: string;
  secret: string;
  enrolledAt?: number;
}

async function main(): Promise<number> {
  const machineLine = machine();
  const howMany =
    (batch === count ? `${count} own-server deployments at once` : `${count} own-server deployments, ${batch} at a time`) +
    (agentWork.max > 0 ? `, each agent taking ${agentWork.min === agentWork.max ? agentWork.min : `${agentWork.min}-${agentWork.max} (uniform)`} s per deploy_app before its report (a pull and start; health answered at once)` : '');
  console.error(`[bench] deploy-engine: ${howMany}, ${describeHost(host)}, deadline ${deadline} s`);
  const service = await startService(
    'bench_deploy_engine',
    { ...RATE_LIMITS_OFF, DEPLOY_ENGINE: 'builtin', DOCKERHUB_CHECK: 'off' },
    { ...(codeFrom ? { codeFrom } : { snapshot: true }), host, privatePostgres: postgres === 'private' ? { max_connections: 1000, track_commit_timestamp: 'on' } : undefined },
  );
  const base = service.baseUrl;
  const roots = mkdtempSync(join(tmpdir(), 'stacker-bench-engine-'));
  const agents: AgentStandInHandle[] = [];
  const agentLogs = new Map<string, string[]>();
  const started: Started[] = [];
  const problems: string[] = [];
  let statuses: Record<string, number> = {};
  let duplicates: Array<{ deployment_hash: string; idempotency_key: string; n: number }> = [];
  let engineCommands: Record<string, number> = {};
  let completionSeconds = Number.NaN;
  try {
    // Projects first, not timed.
    const projects: number[] = [];
    await eachLimited(Array.from({ length: count }, (_, i) => i), 16, async (i) => {
      const created = await api<{ item: { id: number } }>(base, '/project', { method: 'POST', body: projectForm(`bench-engine-${i}`) });
      if (created.status !== 201) throw new Error(`POST /project answered ${created.status}: ${JSON.stringify(created.body)}`);
      projects[i] = created.body.item.id;
    });
    recordAgentRequests();
    const client = new pg.Client({ connectionString: service.databaseUrl });
    await client.connect();
    try {
      const t0 = performance.now();
      const until = t0 + deadline * 1000;
      for (let first = 0; first < count; first += batch) {
        const group: Started[] = [];
        // The batch's deployments at once.
        await Promise.all(
          projects.slice(first, first + batch).map(async (projectId) => {
            const answer = await api<{ item: { deployment_id: number; deployment_hash: string; install_command: string } }>(base, `/project/${projectId}/deploy`, {
              method: 'POST',
              body: { cloud: { provider: 'own' }, server: { srv_ip: SERVER_IP }, stack: {} },
            });
            if (answer.status !== 202) throw new Error(`POST /project/${projectId}/deploy answered ${answer.status}: ${JSON.stringify(answer.body)}`);
            const item = answer.body.item;
            group.push({ projectId, deploymentId: item.deployment_id, hash: item.deployment_hash, secret: /\/install\/([A-Za-z0-9_-]+)'/.exec(item.install_command)![1]! });
          }),
        );
        started.push(...group);
        // Each server: the install script's exchange, then its agent; all of the batch at once.
        await Promise.all(
          group.map(async (deployment) => {
            // A 503 (a dependency timed out: Vault) leaves the secret usable, and the user runs the command again: so does this
            // (counted), up to 5 times 2 s apart; a server still not enrolled then gets no agent, and its deployment is not completed.
            let enrolled = await fetch(`${base}/install/${deployment.secret}/enroll`, { method: 'POST' });
            let text = await enrolled.text();
            for (let attempt = 1; enrolled.status === 503 && attempt <= 5; attempt++) {
              enrollmentRetries.push(`${enrolled.status}: ${text.slice(0, 120)}`);
              await sleep(2000);
              enrolled = await fetch(`${base}/install/${deployment.secret}/enroll`, { method: 'POST' });
              text = await enrolled.text();
            }
            if (enrolled.status !== 200) {
              problems.push(`${deployment.hash}: enrollment answered ${enrolled.status}: ${text.slice(0, 200)}`);
              return;
            }
            deployment.enrolledAt = performance.now();
            const env = Object.fromEntries(text.trim().split('\n').map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
            const lines: string[] = [];
            agentLogs.set(deployment.hash, lines);
            agents.push(
              runAgentStandIn({
                env: { ...env, COMPOSE_PROJECT_DIR: `/home/trydirect/${deployment.hash}`, STACKER_INSTALL_ROOT: join(roots, String(deployment.deploymentId)) },
                log: (line) => lines.push(line),
                workSeconds: agentWork.max > 0 ? (command) => (command.type === 'deploy_app' ? agentWork.min + Math.random() * (agentWork.max - agentWork.min) : 0) : undefined,
              }),
            );
          }),
        );
        // Until every deployment so far whose server enrolled has ended, or the deadline.
        const ids = started.filter((deployment) => deployment.enrolledAt !== undefined).map((deployment) => deployment.deploymentId);
        for (;;) {
          const { rows } = await client.query<{ status: string; n: number }>(`select status, count(*)::int as n from deployment where id = any($1) group by status`, [ids]);
          const now = Object.fromEntries(rows.map((row) => [row.status, row.n]));
          const ended = (now.completed ?? 0) + (now.failed ?? 0) + (now.removed ?? 0) + (now.cancelled ?? 0);
          if (ended === ids.length) break;
          if (performance.now() > until) break;
          await sleep(250);
        }
        if (performance.now() > until) break;
      }
      if (performance.now() <= until) completionSeconds = (performance.now() - t0) / 1000;
      const { rows } = await client.query<{ status: string; n: number }>(`select status, count(*)::int as n from deployment where id = any($1) group by status`, [
        started.map((deployment) => deployment.deploymentId),
      ]);
      statuses = Object.fromEntries(rows.map((row) => [row.status, row.n]));
      duplicates = (
        await client.query<{ deployment_hash: string; idempotency_key: string; n: number }>(
          `select deployment_hash, idempotency_key, count(*)::int as n from commands
           where created_by = 'stacker-engine' and deployment_hash = any($1) group by 1, 2 having count(*) > 1`,
          [started.map((deployment) => deployment.hash)],
        )
      ).rows;
      const kinds = await client.query<{ type: string; status: string; n: number }>(
        `select type, status, count(*)::int as n from commands where created_by = 'stacker-engine' and deployment_hash = any($1) group by 1, 2 order by 1, 2`,
        [started.map((deployment) => deployment.hash)],
      );
      engineCommands = Object.fromEntries(kinds.rows.map((row) => [`${row.type} ${row.status}`, row.n]));
      // When each health command's transaction began and committed (null without track_commit_timestamp: the shared server).
      // When each deploy_app's report was recorded: the commit of its report's transaction (its
      // completed/failed event, written there and never updated).
      const reports = await client.query<{ command_id: string; recorded_at: Date | null }>(
        `select c.command_id,
                (select pg_xact_commit_timestamp(e.xmin) from deployment_event e join deployment d on d.id = e.deployment_id
                  where d.deployment_hash = c.deployment_hash and e.kind = 'command' and e.status in ('completed', 'failed') and e.subject = c.command_id
                  order by e.seq limit 1) as recorded_at
           from commands c where c.created_by = 'stacker-engine' and c.type = 'deploy_app' and c.deployment_hash = any($1)`,
        [started.map((deployment) => deployment.hash)],
      );
      for (const row of reports.rows) if (row.recorded_at) reportRecorded.set(row.command_id, row.recorded_at.getTime());
      const health = await client.query<{ command_id: string; created_at: Date; committed_at: Date | null; claimed_at: Date | null }>(
        `select c.command_id, c.created_at,
                (select pg_xact_commit_timestamp(e.xmin) from deployment_event e join deployment d on d.id = e.deployment_id
                  where d.deployment_hash = c.deployment_hash and e.kind = 'command' and e.status = 'queued' and e.subject = c.command_id) as committed_at,
                (select pg_xact_commit_timestamp(e.xmin) from deployment_event e join deployment d on d.id = e.deployment_id
                  where d.deployment_hash = c.deployment_hash and e.kind = 'command' and e.status = 'sent' and e.subject = c.command_id
                  order by e.seq limit 1) as claimed_at
           from commands c where c.created_by = 'stacker-engine' and c.type = 'health' and c.deployment_hash = any($1)`,
        [started.map((deployment) => deployment.hash)],
      );
      for (const row of health.rows) {
        healthTimes.set(row.command_id, { createdAt: row.created_at.getTime(), committedAt: row.committed_at?.getTime(), claimedAt: row.claimed_at?.getTime() });
      }
      const stuck = await client.query<{ deployment_hash: string; status: string; message: string | null }>(
        `select deployment_hash, status, message from deployment where id = any($1) and status <> 'completed' order by id limit 5`,
        [started.map((deployment) => deployment.deploymentId)],
      );
      for (const row of stuck.rows) {
        problems.push(`${row.deployment_hash}: ${row.status} (${row.message}); its agent's last lines: ${(agentLogs.get(row.deployment_hash) ?? []).slice(-3).join(' | ')}`);
      }
    } finally {
      await client.end();
    }

    // The figures.
    for (const deployment of started) {
      const timeline = timelines.get(deployment.hash) ?? [];
      const healthAt = timeline.findIndex((seen) => seen.kind === 'received' && seen.type === 'health');
      const lastReport = healthAt > 0 ? timeline.slice(0, healthAt).findLast((seen) => seen.kind === 'reported') : undefined;
      if (healthAt > 0 && lastReport) {
        const health = timeline[healthAt]!;
        reportToNext.push(health.at - lastReport.at);
        const times = healthTimes.get(health.commandId);
        if (times) reportToCreated.push(times.createdAt - lastReport.wallAt);
        if (times?.committedAt !== undefined) reportToCommitted.push(times.committedAt - lastReport.wallAt);
        if (times?.committedAt !== undefined) reportSentToCommitted.push(times.committedAt - lastReport.sentWallAt!);
        const recordedAt = reportRecorded.get(lastReport.commandId);
        if (times?.committedAt !== undefined && recordedAt !== undefined) reportRecordedToCommitted.push(times.committedAt - recordedAt);
        reportRoundTrip.push(lastReport.wallAt - lastReport.sentWallAt!);
        if (times?.committedAt !== undefined && times.claimedAt !== undefined) committedToClaimed.push(times.claimedAt - times.committedAt);
        if (times?.claimedAt !== undefined) claimedToArrived.push(health.wallAt - times.claimedAt);
        const poll = timeline.slice(timeline.indexOf(lastReport), healthAt).find((seen) => seen.kind === 'polled');
        if (poll) pollToNext.push(health.at - poll.at);
      }
      const firstCommand = timeline.find((seen) => seen.kind === 'received');
      if (firstCommand && deployment.enrolledAt !== undefined) enrolledToFirst.push(firstCommand.at - deployment.enrolledAt);
    }
    console.error(`[bench] deploy-engine: all ${count} deployments ended after ${completionSeconds.toFixed(1)} s`);
  } finally {
    await Promise.all(agents.map((agent) => agent.stop()));
    await service.stop();
    rmSync(roots, { recursive: true, force: true });
  }

  const completed = statuses.completed ?? 0;
  const stuck = count - completed;
  const line = (label: string, values: number[]) =>
    `| ${label} | ${values.length}/${count} | ${ms(percentile(values, 50))} | ${ms(percentile(values, 99))} | ${ms(values.length ? Math.max(...values) : Number.NaN)} | ${ms(values.length ? Math.min(...values) : Number.NaN)} |`;
  console.log(`Machine: ${machineLine}`);
  console.log(`Command: ${command}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(
    `${howMany} (POST /project/{id}/deploy${batch === count ? '' : ', each batch once the one before had ended'}), each enrolled (POST /install/{secret}/enroll) and its agent ` +
      `stand-in started as its enrollment was answered; two services each (deploy_app x2, then health "all"). Worker: ${describeHost(host)}. Database: ${service.postgres}.\n`,
  );
  const enrolled = started.filter((deployment) => deployment.enrolledAt !== undefined).length;
  console.log(
    `Statuses: ${JSON.stringify(statuses)} of ${started.length} started, ${enrolled} enrolled; every enrolled one ended ` +
      `${Number.isFinite(completionSeconds) ? `${completionSeconds.toFixed(1)} s after the first deploy request` : `? (not within ${deadline} s)`}.`,
  );
  console.log(`Not completed (stuck or failed): ${stuck}. Engine commands queued more than once (same deployment and idempotency key): ${duplicates.length}.`);
  console.log(`Engine commands by type and status: ${JSON.stringify(engineCommands)}`);
  const retried = [...new Set(enrollmentRetries)].map((said) => `${enrollmentRetries.filter((other) => other === said).length} x ${said}`);
  console.log(`Enrollments answered 503 and sent again 2 s later (as a user runs the command again): ${enrollmentRetries.length}${retried.length ? ` (${retried.join('; ')})` : ''}\n`);
  console.log('| measured | deployments | p50 ms | p99 ms | max ms | min ms |');
  console.log('|---|--:|--:|--:|--:|--:|');
  console.log(line('report of the last deploy_app recorded (its transaction committed) -> the engine transaction queuing health committed (claimable); PostgreSQL clock', reportRecordedToCommitted));
  console.log(line('report of the last deploy_app sent -> the engine transaction queuing health committed (claimable)', reportSentToCommitted));
  console.log(line('that report sent -> its answer arrived (the step is taken before the answer)', reportRoundTrip));
  console.log(line('report of the last deploy_app answered -> the engine transaction queuing health committed (claimable)', reportToCommitted));
  console.log(line('report answered -> that transaction began (the command\'s created_at)', reportToCreated));
  console.log(line("that commit -> the wait's claim of it committed (its `sent` event)", committedToClaimed));
  console.log(line('the claim committed -> the wait\'s answer arrived at the agent', claimedToArrived));
  console.log(line('report answered -> health command arrived at the agent', reportToNext));
  console.log(line("the agent's next wait sent (right after its report) -> health command arrived in its answer", pollToNext));
  console.log(line('enrollment answered -> first deploy_app arrived at the agent', enrolledToFirst));
  for (const problem of problems) console.log(`  ${problem}`);
  for (const duplicate of duplicates.slice(0, 5)) console.log(`  twice: ${JSON.stringify(duplicate)}`);
  const bad = stuck + duplicates.length;
  if (bad) console.error(`[bench] deploy-engine: ${stuck} not completed, ${duplicates.length} commands queued twice`);
  return bad ? 1 : 0;
}

/** Enrollments answered 503 and sent again, with what they said. */
const enrollmentRetries: string[] = [];
const reportToNext: number[] = [];
const reportToCreated: number[] = [];
const reportToCommitted: number[] = [];
const reportSentToCommitted: number[] = [];
const reportRecordedToCommitted: number[] = [];
const reportRecorded = new Map<string, number>();
const reportRoundTrip: number[] = [];
const pollToNext: number[] = [];
const committedToClaimed: number[] = [];
const claimedToArrived: number[] = [];
const enrolledToFirst: number[] = [];
const healthTimes = new Map<string, { createdAt: number; committedAt?: number; claimedAt?: number }>();

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] deploy-engine failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
