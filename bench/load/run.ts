// Load and soak (issue 7, point 5): the real local service under a steady mixed load for minutes.
//   node bench/load/run.ts [--agents 1000] [--duration 300] [--ramp 20] [--command-rate 2]
//                          [--command-timeout 60] [--project-rate 0.2] [--users 20] [--drain 120]
//                          [--step 2000] [--fail-every 10] [--postgres private|shared] [--host wrangler|miniflare]
//                          [--register off|on]
//   (or BENCH_AGENTS, BENCH_DURATION, ...; npm run bench:load -- <options>. Not part of `npm run bench`,
//   which runs bench/*.ts only.)
//
// 1. The service as `npm start` runs it (bench/lib/service.ts, from a copy of the code), on a private
//    PostgreSQL with max_connections = agents + 200, with the Docker Hub stub of the tests and an
//    install-service stand-in (bench/load/install-service.ts) that the service delivers jobs to directly
//    (no QSTASH_TOKEN), and that answers with signed progress webhooks until a terminal status.
// 2. --agents agents (one deployment each, spread over --users users; rows seeded) start the real
//    agent's loop (bench/load/agents.ts), --ramp a second, not all in the same instant.
// 3. Once all have started, for --duration seconds: --command-rate commands a second
//    (POST /api/v1/commands by the deployment's owner, for an agent picked at random; health, logs and
//    restart in turn, timeout_seconds --command-timeout, so a command claimed by a poll that nobody
//    received any more comes back after its lease, timeout + 30 s) and --project-rate projects a second (POST /project with
//    custom-stack-payload.json, then POST /project/{id}/deploy), each by the next user in turn.
// 4. Drain: no new work; up to --drain seconds for every command to be delivered and reported and every
//    deployment to end; then the agents stop polling and their open polls end.
// --host: what serves the Worker (bench/lib/service.ts): wrangler dev (the default, as `npm start`), or
// Miniflare alone (one workerd, without the proxy workerd wrangler puts in front, which runs out of
// open files at a few thousand held agents here).
// --register on: the agents' rows are not seeded; each agent registers through the API when it starts
// (anonymous POST /api/v1/agent/register, as the real agent does), so its first poll finds the object
// primed. All register from 127.0.0.1, so the anonymous per-address rate limit is turned off for the run.
// Targets (exit 1 when one is missed): no 5xx, no request left without an answer, no command lost
// (created, and by the end not delivered, or its result not stored) or delivered twice or to another agent, every
// deployment in a terminal status (read back through GET /project/deploy/status).
import { readFileSync } from 'node:fs';
import http from 'node:http';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startDockerHubStub } from '../../tests/stubs/dockerhub.ts';
import { ms, openFilesLimit, percentile, runWithOpenFiles, shellQuote, sleep } from '../lib/measure.ts';
import { describeHost, machine, projectRoot, startService, type WorkerHost } from '../lib/service.ts';
import { AgentFleet, POLLING_TIMEOUT_SECONDS, seedAgents, type LoadAgent } from './agents.ts';
import { startInstallService } from './install-service.ts';
import { cpuBetween, machineCpu, mib, serviceRss, snapshot, type Snapshot } from './processes.ts';
import { NO_ANSWER, Recorder, send } from './recorder.ts';

const TERMINAL = new Set(['completed', 'failed', 'error', 'cancelled', 'timed_out']);
const COMMAND_TYPES = ['health', 'logs', 'restart'] as const;
/** The rate limits' defaults (functions/config.ts): the load stays under them per subject. */
const USER_LIMIT_PER_MINUTE = 600;
const PROGRESS_EVERY_MS = 10_000;
const CRON_EVERY_MS = 60_000;
const LOOP_RESOLUTION_MS = 20;

const OPTION_NAMES = ['agents', 'duration', 'ramp', 'command-rate', 'command-timeout', 'project-rate', 'users', 'drain', 'step', 'fail-every', 'postgres', 'host', 'register'] as const;
type OptionName = (typeof OPTION_NAMES)[number];

function settings() {
  const usage =
    'usage: node bench/load/run.ts [--agents 1000] [--duration 300] [--ramp 20] [--command-rate 2] [--command-timeout 60] [--project-rate 0.2] [--users 20] [--drain 120] [--step 2000] [--fail-every 10] [--postgres private|shared] [--host wrangler|miniflare] [--register off|on]';
  try {
    const { values } = parseArgs({ options: Object.fromEntries(OPTION_NAMES.map((name) => [name, { type: 'string' }])) as Record<OptionName, { type: 'string' }> });
    const value = (name: OptionName, fallback: string) =>
      (values[name] as string | undefined) ?? process.env[`BENCH_${name.toUpperCase().replace('-', '_')}`] ?? fallback;
    const result = {
      agents: Number(value('agents', '1000')),
      duration: Number(value('duration', '300')),
      ramp: Number(value('ramp', '20')),
      commandRate: Number(value('command-rate', '2')),
      commandTimeout: Number(value('command-timeout', '60')),
      projectRate: Number(value('project-rate', '0.2')),
      users: Number(value('users', '20')),
      drain: Number(value('drain', '120')),
      step: Number(value('step', '2000')),
      failEvery: Number(value('fail-every', '10')),
      postgres: value('postgres', 'private'),
      host: value('host', 'wrangler') as WorkerHost,
      register: value('register', 'off'),
    };
    const whole = (n: number, min: number) => Number.isInteger(n) && n >= min;
    const rate = (n: number) => Number.isFinite(n) && n >= 0 && n <= 1000;
    if (
      whole(result.agents, 1) &&
      whole(result.duration, 1) &&
      whole(result.users, 1) &&
      whole(result.commandTimeout, 1) &&
      whole(result.drain, 0) &&
      whole(result.step, 0) &&
      whole(result.failEvery, 0) &&
      rate(result.commandRate) &&
      rate(result.projectRate) &&
      Number.isFinite(result.ramp) &&
      result.ramp > 0 &&
      ['private', 'shared'].includes(result.postgres) &&
      ['wrangler', 'miniflare'].includes(result.host) &&
      ['on', 'off'].includes(result.register)
    ) {
      return result;
    }
    console.error(`${usage}\n(agents, duration, users, command-timeout: whole numbers above 0; drain, step, fail-every: whole numbers; rates 0 to 1000 a second; ramp above 0 agents a second; host wrangler or miniflare; register on or off)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}

const options = settings();
// The exact command, with the environment that changes the run: BENCH_* options, and service settings
// such as RATE_LIMIT_* (the service reads them from the environment too).
const commandLine = [
  ...OPTION_NAMES.map((name) => `BENCH_${name.toUpperCase().replace('-', '_')}`).flatMap((name) => (process.env[name] ? [`${name}=${shellQuote(process.env[name]!)}`] : [])),
  ...Object.keys(process.env)
    .filter((name) => name.startsWith('RATE_LIMIT_'))
    .sort()
    .map((name) => `${name}=${shellQuote(process.env[name]!)}`),
  'node bench/load/run.ts',
  ...process.argv.slice(2).map(shellQuote),
].join(' ');

const projectForm = readFileSync(join(projectRoot, 'tests', 'fixtures', 'reference-payloads', 'custom-stack-payload.json'), 'utf8');
const deployForm = JSON.parse(readFileSync(join(projectRoot, 'tests', 'fixtures', 'reference-payloads', 'deploy2.json'), 'utf8')) as Record<string, unknown>;

interface CreatedCommand {
  agent: LoadAgent;
  /** performance.now() when the POST's answer arrived. */
  createdAt: number;
}

interface StartedDeployment {
  id: number;
  hash: string;
  owner: string;
}

const bearer = (user: string) => ({ authorization: `Bearer user-group_user-${user}`, 'content-type': 'application/json' });
const randomHex = () => crypto.randomUUID().replace(/-/g, '');

async function main(): Promise<number> {
  // Each held agent costs ~4-6 descriptors in each workerd (wrangler's proxy: 8,047 at 2,000 agents, 17,859 at 3,000).
  const raised = await runWithOpenFiles(options.agents * 6 + 1024);
  if (raised !== undefined) return raised;

  const machineLine = machine();
  const recorder = new Recorder();
  const webhookSecret = randomHex();
  const qstashSigningKey = `sig_${randomHex()}`;
  const installService = await startInstallService({ recorder, webhookSecret, qstashSigningKey, stepMs: options.step, failEvery: options.failEvery });
  const dockerHub = await startDockerHubStub();
  const users = Array.from({ length: options.users }, (_, index) => `loaduser${index}`);
  const perUserPerMinute = ((options.commandRate + 2 * options.projectRate) / options.users) * 60;
  if (perUserPerMinute > USER_LIMIT_PER_MINUTE / 2) {
    console.error(`[load] warning: ${perUserPerMinute.toFixed(0)} requests a minute per user is close to the default limit (${USER_LIMIT_PER_MINUTE}); add --users`);
  }

  console.error(`[load] ${options.agents} agents, ${options.users} users; starting the service (${describeHost(options.host)}) ...`);
  const service = await startService(
    'bench_load',
    {
      INSTALL_SERVICE_URL: installService.url,
      INSTALL_WEBHOOK_SECRET: webhookSecret,
      QSTASH_CURRENT_SIGNING_KEY: qstashSigningKey,
      QSTASH_NEXT_SIGNING_KEY: qstashSigningKey,
      QSTASH_TOKEN: '',
      DOCKERHUB_URL: dockerHub.url,
      DOCKERHUB_CHECK: 'on',
      ...(options.register === 'on' ? { RATE_LIMIT_ANONYMOUS_PER_MINUTE: '0' } : {}),
    },
    { snapshot: true, host: options.host, ...(options.postgres === 'private' ? { privatePostgres: { max_connections: options.agents + 200 } } : {}) },
  );
  const pool = new pg.Pool({ connectionString: service.databaseUrl, max: 2 });
  const userHttp = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const fleet = new AgentFleet(service.baseUrl, recorder);
  const created = new Map<string, CreatedCommand>();
  const deployments = new Map<string, StartedDeployment>();
  const inFlight = new Set<Promise<unknown>>();
  const track = (work: Promise<unknown>) => {
    inFlight.add(work);
    void work.finally(() => inFlight.delete(work));
  };
  let peakConnections = 0;
  let peakWorkerd = 0;
  let atStart: Snapshot | undefined;
  let atEnd: Snapshot | undefined;
  let machineAtStart = machineCpu();
  let machineAtEnd = machineAtStart;
  // How late this process's own timers run: if the load generator itself were saturated, it would show here.
  const loopDelay = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  let loadAtStart = 0;
  let loadAtEnd = 0;
  let phase = 'ramp';
  const began = performance.now();
  let loadStarted = 0;
  let loadEnded = 0;
  let requestsAtLoadStart = 0;
  let requestsAtLoadEnd = 0;
  let drainedAllSeconds: number | undefined;
  const finalStatuses = { commands: new Map<string, string>(), deployments: new Map<string, string>() };
  let agents: LoadAgent[] = [];
  let progressTimer: NodeJS.Timeout | undefined;
  let cronTimer: NodeJS.Timeout | undefined;

  try {
    agents = await seedAgents(pool, options.agents, users, { register: options.register === 'on' });
    atStart = snapshot();
    machineAtStart = machineCpu();
    loadAtStart = loadavg()[0]!;
    loopDelay.enable();
    console.error(`[load] service at ${service.baseUrl}; workerd RSS ${mib(atStart.workerd)}; load average ${loadAtStart.toFixed(2)}`);

    // A progress line every 10 s, and the peaks (database connections, workerd RSS) sampled with it.
    let lastTick = performance.now();
    const progress = async () => {
      const now = performance.now();
      const rate = recorder.takeWindow() / ((now - lastTick) / 1000);
      lastTick = now;
      const memory = snapshot();
      peakWorkerd = Math.max(peakWorkerd, memory.workerd);
      const { rows } = await pool.query<{ n: number }>(
        "select count(*)::int as n from pg_stat_activity where datname = current_database() and backend_type = 'client backend'",
      );
      peakConnections = Math.max(peakConnections, rows[0]!.n);
      const delivered = [...created.keys()].filter((id) => fleet.ledger.deliveries.has(id)).length;
      const reported = [...created.keys()].filter((id) => fleet.ledger.reported.has(id)).length;
      const ended = [...installService.jobs.values()].filter((job) => job.finished).length;
      console.log(
        `[load] ${((now - began) / 1000).toFixed(0)} s ${phase}: ${fleet.polling(agents)}/${agents.length} agents polling | ${rate.toFixed(1)} req/s | ` +
          `commands ${created.size} created, ${delivered} delivered, ${reported} reported | deployments ${deployments.size} started, ${ended} ended | ` +
          `5xx ${recorder.serverErrors}, 429 ${recorder.tooMany}, no answer ${recorder.noAnswer} | workerd ${mib(memory.workerd)}, PG connections ${rows[0]!.n}`,
      );
    };
    progressTimer = setInterval(() => void progress().catch((error: unknown) => console.error(`[load] progress: ${String(error)}`)), PROGRESS_EVERY_MS);

    // The cron trigger (wrangler.toml: every minute), which `wrangler dev` does not fire by itself:
    // command leases, outbox retries and the deployment deadline depend on it, as in production.
    cronTimer = setInterval(() => {
      track(send(recorder, userHttp, 'GET /cdn-cgi/local/scheduled (cron)', `${service.baseUrl}/cdn-cgi/local/scheduled`, { timeoutMs: 60_000 }));
    }, CRON_EVERY_MS);

    // The agents, ramped in.
    const rampSeconds = options.agents / options.ramp;
    console.error(`[load] starting ${options.agents} agents, ${options.ramp} a second (${rampSeconds.toFixed(0)} s)`);
    fleet.start(agents, options.ramp);
    await sleep(rampSeconds * 1000);

    // The load phase: commands and projects at steady rates, on a fixed schedule (not waiting for answers).
    phase = 'load';
    loadStarted = performance.now();
    requestsAtLoadStart = recorder.total;
    let commandIndex = 0;
    let projectIndex = 0;
    const createCommand = async (agent: LoadAgent, type: string) => {
      const body = JSON.stringify({ deployment_hash: agent.hash, command_type: type, parameters: { app_code: 'web' }, timeout_seconds: options.commandTimeout });
      const response = await send(recorder, userHttp, 'POST /api/v1/commands', `${service.baseUrl}/api/v1/commands`, {
        method: 'POST',
        headers: bearer(agent.owner),
        body,
        timeoutMs: 60_000,
      });
      if (response?.status === 201) {
        const id = (JSON.parse(response.body) as { item: { command_id: string } }).item.command_id;
        created.set(id, { agent, createdAt: response.doneAt });
      }
    };
    const createAndDeploy = async (owner: string) => {
      const made = await send(recorder, userHttp, 'POST /project', `${service.baseUrl}/project`, { method: 'POST', headers: bearer(owner), body: projectForm, timeoutMs: 60_000 });
      if (made?.status !== 201) return;
      const projectId = (JSON.parse(made.body) as { item: { id: number } }).item.id;
      const body = JSON.stringify({ ...deployForm, cloud: { provider: 'htz', cloud_token: `load-cloud-token-${randomHex()}`, save_token: false } });
      const started = await send(recorder, userHttp, 'POST /project/{id}/deploy', `${service.baseUrl}/project/${projectId}/deploy`, {
        method: 'POST',
        headers: bearer(owner),
        body,
        timeoutMs: 60_000,
      });
      if (started?.status === 202) {
        const item = (JSON.parse(started.body) as { item: { deployment_id: number; deployment_hash: string } }).item;
        deployments.set(item.deployment_hash, { id: item.deployment_id, hash: item.deployment_hash, owner });
      }
    };
    const loadEnds = loadStarted + options.duration * 1000;
    const schedule = (rate: number, index: number) => (rate > 0 ? loadStarted + (index * 1000) / rate : Number.POSITIVE_INFINITY);
    for (;;) {
      const nextCommand = schedule(options.commandRate, commandIndex);
      const nextProject = schedule(options.projectRate, projectIndex);
      const next = Math.min(nextCommand, nextProject);
      if (next >= loadEnds) break;
      const wait = next - performance.now();
      if (wait > 0) await sleep(wait);
      if (nextCommand <= nextProject) {
        const agent = agents[Math.floor(Math.random() * agents.length)]!;
        track(createCommand(agent, COMMAND_TYPES[commandIndex % COMMAND_TYPES.length]!));
        commandIndex++;
      } else {
        track(createAndDeploy(users[projectIndex % users.length]!));
        projectIndex++;
      }
    }
    const remaining = loadEnds - performance.now();
    if (remaining > 0) await sleep(remaining);
    loadEnded = performance.now();
    requestsAtLoadEnd = recorder.total;

    // Drain: the users' requests still under way end, then every command delivered and reported and every
    // install sequence finished, within --drain seconds.
    phase = 'drain';
    const drainDeadline = performance.now() + options.drain * 1000;
    const settledCommand = (id: string) => fleet.ledger.reported.has(id) || fleet.ledger.reportFailures.has(id);
    let installDone = false;
    void Promise.all([...inFlight])
      .then(() => installService.settled())
      .then(() => (installDone = true));
    while (performance.now() < drainDeadline) {
      const commandsDone = inFlight.size === 0 && [...created.keys()].every(settledCommand);
      if (commandsDone && installDone && installService.jobs.size >= deployments.size) {
        drainedAllSeconds = (performance.now() - loadEnded) / 1000;
        break;
      }
      await sleep(250);
    }
    console.error(
      drainedAllSeconds === undefined
        ? `[load] drain: not everything settled within ${options.drain} s; stopping the agents`
        : `[load] drain: everything settled ${drainedAllSeconds.toFixed(1)} s after the load; stopping the agents`,
    );
    phase = 'stop';
    clearInterval(cronTimer);
    await fleet.stop();
    await Promise.all([...inFlight]);

    // Where everything ended, as the service tells its users (deployments) and as stored (commands).
    for (const deployment of deployments.values()) {
      const response = await send(
        recorder,
        userHttp,
        'GET /project/deploy/status',
        `${service.baseUrl}/project/deploy/status?deployment_hash=${deployment.hash}`,
        { headers: bearer(deployment.owner), timeoutMs: 30_000 },
      );
      finalStatuses.deployments.set(
        deployment.hash,
        response?.status === 200 ? (JSON.parse(response.body) as { item: { status: string } }).item.status : `(answer ${response?.status ?? NO_ANSWER})`,
      );
    }
    const { rows } = await pool.query<{ command_id: string; status: string }>('select command_id, status from commands where command_id = any($1::text[])', [[...created.keys()]]);
    for (const row of rows) finalStatuses.commands.set(row.command_id, row.status);

    atEnd = snapshot();
    machineAtEnd = machineCpu();
    loopDelay.disable();
    peakWorkerd = Math.max(peakWorkerd, atEnd.workerd, atEnd.workerdPeak);
    loadAtEnd = loadavg()[0]!;
  } finally {
    clearInterval(progressTimer);
    clearInterval(cronTimer);
    userHttp.destroy();
    await pool.end().catch(() => undefined);
    await service.stop();
    await installService.close();
    await dockerHub.close();
  }

  return report({
    machineLine,
    recorder,
    created,
    deployments,
    fleet,
    installService,
    finalStatuses,
    atStart: atStart!,
    atEnd: atEnd!,
    machineBusy: (machineAtEnd.busy - machineAtStart.busy) / Math.max(1, machineAtEnd.total - machineAtStart.total),
    loopDelay,
    peakWorkerd,
    peakConnections,
    loadAtStart,
    loadAtEnd,
    totalSeconds: (performance.now() - began) / 1000,
    loadSeconds: (loadEnded - loadStarted) / 1000,
    loadRequests: requestsAtLoadEnd - requestsAtLoadStart,
    drainedAllSeconds,
    postgres: service.postgres,
  });
}

function report(run: {
  machineLine: string;
  recorder: Recorder;
  created: Map<string, CreatedCommand>;
  deployments: Map<string, StartedDeployment>;
  fleet: AgentFleet;
  installService: Awaited<ReturnType<typeof startInstallService>>;
  finalStatuses: { commands: Map<string, string>; deployments: Map<string, string> };
  atStart: Snapshot;
  atEnd: Snapshot;
  /** Share of the machine's CPU time that was busy (everyone's work) between start and end. */
  machineBusy: number;
  loopDelay: ReturnType<typeof monitorEventLoopDelay>;
  peakWorkerd: number;
  peakConnections: number;
  loadAtStart: number;
  loadAtEnd: number;
  totalSeconds: number;
  loadSeconds: number;
  loadRequests: number;
  drainedAllSeconds: number | undefined;
  postgres: string;
}): number {
  const { recorder, created, fleet, finalStatuses } = run;
  const { deliveries, reported, reportFailures } = fleet.ledger;

  let delivered = 0;
  let duplicated = 0;
  let wrongAgent = 0;
  const lost: string[] = [];
  const latency: number[] = [];
  for (const [id, command] of created) {
    const seen = deliveries.get(id);
    if (seen) {
      delivered++;
      if (seen.length > 1) duplicated++;
      if (seen.some((delivery) => delivery.agent !== command.agent)) wrongAgent++;
      latency.push(seen[0]!.at - command.createdAt);
    }
    // Lost: no agent ever received it, or its outcome is not stored (a report the agent got no answer to
    // still counts when the service stored it).
    if (!seen || !['completed', 'failed'].includes(finalStatuses.commands.get(id) ?? '')) lost.push(id);
  }
  const unknownDeliveries = [...deliveries.keys()].filter((id) => !created.has(id)).length;
  const commandStatuses = countBy([...created.keys()].map((id) => finalStatuses.commands.get(id) ?? '(missing)'));
  const deploymentStatuses = countBy([...run.deployments.keys()].map((hash) => finalStatuses.deployments.get(hash) ?? '(not read)'));
  const notTerminal = [...run.deployments.keys()].filter((hash) => !TERMINAL.has(finalStatuses.deployments.get(hash) ?? ''));
  const jobs = [...run.installService.jobs.values()];
  const byStatus = recorder.byStatus();
  const serverErrors = [...byStatus].filter(([status]) => status !== NO_ANSWER && status >= 500).reduce((sum, [, n]) => sum + n, 0);

  console.log(`Machine: ${run.machineLine.replace(/load average [\d.]+/, `load average ${run.loadAtStart.toFixed(2)} at the start, ${run.loadAtEnd.toFixed(2)} at the end`)}`);
  console.log(`Command: ${commandLine}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(
    `${options.agents} agents (seeded, ${options.users} users owning their deployments) run the real agent's loop (wait timeout=${POLLING_TIMEOUT_SECONDS}, ` +
      `client timeout ${POLLING_TIMEOUT_SECONDS + 5} s, report, app status), started ${options.ramp} a second; then for ${options.duration} s ` +
      `${options.commandRate} commands/s (POST /api/v1/commands, random agent, timeout_seconds ${options.commandTimeout}) and ${options.projectRate} projects/s (POST /project, then ` +
      `POST /project/{id}/deploy; the install-service stand-in reports 3 progress steps ${options.step} ms apart, then completed, or failed for every ` +
      `${options.failEvery || 'no'}th); drain up to ${options.drain} s. Database: ${run.postgres}. Worker host: ${describeHost(options.host)}. Agents ${options.register === 'on' ? 'registered through the API as they started' : 'seeded as registration leaves them'}. Open files limit: ${openFilesLimit()}\n`,
  );
  console.log(
    `Requests: ${recorder.total} in ${run.totalSeconds.toFixed(0)} s (${(recorder.total / run.totalSeconds).toFixed(1)}/s over the whole run; ` +
      `${(run.loadRequests / run.loadSeconds).toFixed(1)}/s during the ${run.loadSeconds.toFixed(0)} s load phase)\n`,
  );
  console.log('| route | requests | p50 ms | p99 ms | max ms | answers |');
  console.log('|---|--:|--:|--:|--:|---|');
  for (const route of recorder.summaries()) {
    const answers = route.statuses.map(([status, n]) => `${n}×${status}`).join(', ');
    console.log(`| ${route.route} | ${route.requests} | ${ms(route.p50)} | ${ms(route.p99)} | ${ms(route.max)} | ${answers} |`);
  }
  console.log('');
  console.log(`Answers by status: ${[...byStatus].sort((a, b) => String(a[0]).localeCompare(String(b[0]))).map(([status, n]) => `${status}: ${n}`).join(', ')}`);
  console.log(`5xx: ${serverErrors}; 429 (rate limited): ${byStatus.get(429) ?? 0}; no answer (network error or client timeout): ${byStatus.get(NO_ANSWER) ?? 0}`);
  for (const route of recorder.summaries()) {
    for (const [status, body] of route.firstBodies) console.log(`  first ${status} of ${route.route}: ${body}`);
  }
  console.log('');
  console.log(
    `Commands: ${created.size} created, ${delivered} delivered, ${reported.size} reported, ${lost.length} lost, ${duplicated} duplicated, ` +
      `${wrongAgent} delivered to another agent, ${unknownDeliveries} deliveries of commands this run did not create; ` +
      `reports the agent got no 2xx for, after its retries: ${reportFailures.size}`,
  );
  console.log(`  delivery (POST answered -> the agent's wait answered): p50 ${ms(percentile(latency, 50))} ms, p99 ${ms(percentile(latency, 99))} ms, max ${ms(latency.length ? Math.max(...latency) : Number.NaN)} ms`);
  console.log(`  stored status at the end: ${[...commandStatuses].map(([status, n]) => `${status} ${n}`).join(', ') || 'none'}`);
  for (const [id, command] of [...created].filter(([commandId]) => (deliveries.get(commandId)?.length ?? 0) > 1).slice(0, 5)) {
    const times = deliveries.get(id)!.map((delivery) => `${((delivery.at - command.createdAt) / 1000).toFixed(1)} s`);
    console.log(`  delivered twice ${id}: deliveries at ${times.join(', ')} after its POST answered; report ${reportFailures.get(id) ?? (reported.has(id) ? 'accepted' : 'none')}`);
  }
  for (const id of lost.slice(0, 5)) {
    console.log(`  lost ${id}: stored ${finalStatuses.commands.get(id) ?? '(missing)'}, deliveries ${deliveries.get(id)?.length ?? 0}, report ${reportFailures.get(id) ?? 'none'}`);
  }
  console.log(
    `Deployments: ${run.deployments.size} started, ${jobs.length} jobs received by the install service (${jobs.reduce((sum, job) => sum + job.deliveries, 0)} deliveries, ` +
      `${run.installService.badSignatures} with a bad signature), ${jobs.filter((job) => job.finished).length} sequences finished; ` +
      `status at the end: ${[...deploymentStatuses].map(([status, n]) => `${status} ${n}`).join(', ') || 'none'}; not terminal: ${notTerminal.length}`,
  );
  for (const job of jobs.filter((job) => job.problem).slice(0, 5)) console.log(`  install webhook problem for deployment ${job.deploymentId}: ${job.problem}`);
  for (const hash of notTerminal.slice(0, 5)) console.log(`  not terminal: ${hash}: ${finalStatuses.deployments.get(hash)}${run.installService.jobs.has(hash) ? '' : ' (its job never reached the install service)'}`);
  console.log(
    `Drain: ${run.drainedAllSeconds === undefined ? `not everything settled within ${options.drain} s` : `everything settled ${run.drainedAllSeconds.toFixed(1)} s after the load phase`}`,
  );
  const seconds = run.totalSeconds;
  console.log(
    `Memory (RSS) of workerd: ${mib(run.atStart.workerd)} at the start, ${mib(run.atEnd.workerd)} at the end, peak ${mib(run.peakWorkerd)}; ` +
      `whole service: ${mib(serviceRss(run.atStart))} -> ${mib(serviceRss(run.atEnd))} ` +
      `(at the end: ${[...run.atEnd.memory].map(([kind, bytes]) => `${kind} ${mib(bytes)}`).join(', ')}). ` +
      `Peak PostgreSQL client connections (sampled every 10 s): ${run.peakConnections}`,
  );
  const cores = availableParallelism();
  console.log(
    `CPU, in cores busy on average over the run: ${cpuBetween(run.atStart, run.atEnd, seconds).map(([kind, share]) => `${kind} ${share.toFixed(2)}`).join(', ')}; ` +
      `the whole machine ${(run.machineBusy * cores).toFixed(2)} of ${cores} (other people's work included)`,
  );
  // The histogram holds each timer's whole interval; what is beyond LOOP_RESOLUTION_MS is the delay.
  const late = (nanoseconds: number) => ms(Math.max(0, nanoseconds / 1e6 - LOOP_RESOLUTION_MS));
  console.log(
    `Event-loop delay of this benchmark's process (the load generator and the stubs): p50 ${late(run.loopDelay.percentile(50))} ms, ` +
      `p99 ${late(run.loopDelay.percentile(99))} ms, max ${late(run.loopDelay.max)} ms`,
  );

  const targets: Array<[string, boolean]> = [
    ['no 5xx', serverErrors === 0],
    ['every request answered (no network error, no client timeout)', (byStatus.get(NO_ANSWER) ?? 0) === 0],
    ['no command lost', lost.length === 0],
    ['no command delivered twice, or to another agent', duplicated === 0 && wrongAgent === 0 && unknownDeliveries === 0],
    ['every deployment terminal', notTerminal.length === 0],
  ];
  console.log('');
  console.log(`Targets: ${targets.map(([name, met]) => `${name}: ${met ? 'met' : '**MISSED**'}`).join('; ')}`);
  const missed = targets.filter(([, met]) => !met);
  if (missed.length) console.error(`[load] missed: ${missed.map(([name]) => name).join('; ')}`);
  return missed.length ? 1 : 0;
}

function countBy(values: string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return counts;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[load] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
