// Deployment event log: how long an event, appended by the install service's signed webhook, takes to
// reach (1) the dashboard's open Server-Sent Events feed GET /projects/:id/deployments/:d/events and
// (2) an API request waiting on GET /project/:id/deployments/:d/events?after=N&wait=25.
//   node bench/deploy-events.ts [--events 100] [--warmup 2]
//   (or BENCH_EVENTS, BENCH_WARMUP)
// Each part: one deployment (rows inserted directly), events sent one after another, each waited for
// before the next. Before each webhook the reader is proven parked on the doorbell (see parkedAt): the
// service runs on a private PostgreSQL with pg_stat_statements, and the bench counts the executions of
// the event-log read (listEvents); a reader has parked once it has read the log after listening on
// the doorbell and found nothing, so an event committed afterwards can reach it only through the ring.
// Measured: from the webhook's response arriving (and from it being sent) to the event arriving: the
// SSE event's blank line read by this process, or the waiting request's whole response.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { AnyDatabase } from '../db/client.ts';
import * as schema from '../db/schema.ts';
import { createSession } from '../functions/services/dashboard-sessions.ts';
import { ms, percentile, shellQuote, sleep, timedRequest } from './lib/measure.ts';
import { machine, startService, type Service } from './lib/service.ts';

const WAIT_SECONDS = 25;
const OWNER = 'benchevents';
const OWNER_HEADERS = { authorization: `Bearer user-group_user-${OWNER}` };
const STATUSES = ['in_progress', 'paused', 'wait_resume', 'wait_start', 'confirmed'] as const;
/** How long the bench waits for a reader to park before it counts the round as a failure. */
const PARK_TIMEOUT_MS = 5000;

function settings() {
  const usage = 'usage: node bench/deploy-events.ts [--events n] [--warmup n]';
  try {
    const { values } = parseArgs({ options: { events: { type: 'string' }, warmup: { type: 'string' } } });
    const events = Number(values.events ?? process.env.BENCH_EVENTS ?? 100);
    const warmup = Number(values.warmup ?? process.env.BENCH_WARMUP ?? 2);
    if (Number.isInteger(events) && events > 0 && Number.isInteger(warmup) && warmup >= 0) return { events, warmup };
    console.error(`${usage} (whole numbers; events above 0)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const { events: eventCount, warmup } = settings();
const command = [
  ...['BENCH_EVENTS', 'BENCH_WARMUP'].flatMap((name) => (process.env[name] ? [`${name}=${process.env[name]}`] : [])),
  'node bench/deploy-events.ts',
  ...process.argv.slice(2).map(shellQuote),
].join(' ');

interface EventView {
  seq: number;
  kind: string;
  status: string | null;
  message: string | null;
}

interface PartResult {
  fromResponse: number[];
  fromSent: number[];
  webhookRoundTrip: number[];
  /** Time from starting to wait for the reader to park to it being parked. */
  parkWait: number[];
  missed: number;
  duplicates: number;
  /** Events that arrived before their webhook's response did (the ring can't be that fast: a sign of a bad measurement). */
  beforeResponse: number;
  notParked: number;
  /** Rounds (or, for SSE, the whole run) whose count of log reads was not the expected one: the parking proof would not hold. */
  readsOff: number;
  failures: number;
  problems: string[];
}

const newResult = (): PartResult => ({
  fromResponse: [],
  fromSent: [],
  webhookRoundTrip: [],
  parkWait: [],
  missed: 0,
  duplicates: 0,
  beforeResponse: 0,
  notParked: 0,
  readsOff: 0,
  failures: 0,
  problems: [],
});

/** Executions of listEvents' query, from pg_stat_statements (updated before the query's ReadyForQuery). */
async function eventReads(client: pg.Client): Promise<number> {
  const { rows } = await client.query<{ calls: string }>(
    `select coalesce(sum(calls), 0) as calls from pg_stat_statements
      where query like 'select %from "deployment_event" where%"deployment_event"."seq" > %' and query not like '%pg_stat_statements%'`,
  );
  return Number(rows[0]!.calls);
}

/** Polls until listEvents has run `target` times in all; the wait in ms, or undefined on timeout. */
async function parkedAt(client: pg.Client, target: number): Promise<number | undefined> {
  const start = performance.now();
  while (performance.now() - start < PARK_TIMEOUT_MS) {
    if ((await eventReads(client)) >= target) return performance.now() - start;
    await sleep(2);
  }
  return undefined;
}

/** A deployment of the owner's, pending, with an empty event log. */
async function createDeployment(client: pg.Client, name: string): Promise<{ projectId: number; deploymentId: number }> {
  const project = await client.query<{ id: number }>(
    `insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), $1, $2, '{}') returning id`,
    [OWNER, name],
  );
  const deployment = await client.query<{ id: number }>(
    `insert into deployment (project_id, metadata, status, deployment_hash, user_id, deadline_at)
     values ($1, '{}', 'pending', $2, $3, now() + interval '1 day') returning id`,
    [project.rows[0]!.id, `deployment_benchevents_${randomBytes(6).toString('hex')}`, OWNER],
  );
  return { projectId: project.rows[0]!.id, deploymentId: deployment.rows[0]!.id };
}

/** Sends one signed progress webhook; its status must be 200 and not a duplicate. */
function webhookSender(service: Service, agent: http.Agent, secret: string) {
  const runId = randomBytes(4).toString('hex');
  let counter = 0;
  return async (deploymentId: number, step: number) => {
    const message = `bench ${runId} step ${step}`;
    const body = JSON.stringify({ deploy_id: deploymentId, status: STATUSES[step % STATUSES.length], progress: step % 100, message });
    const t = Math.floor(Date.now() / 1000);
    const signature = `t=${t},v1=${createHmac('sha256', secret).update(`${t}.`).update(body).digest('hex')}`;
    const response = await timedRequest(agent, `${service.baseUrl}/webhooks/install`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-install-signature': signature, 'x-install-message-id': `bench-${runId}-${++counter}` },
      body,
      timeoutMs: 30_000,
    });
    const applied = response.status === 200 && (JSON.parse(response.body) as { item?: { duplicate?: boolean } }).item?.duplicate === false;
    return { response, applied, message };
  };
}

/** An open text/event-stream: each dispatched event with the time its terminating blank line arrived. */
class SseClient {
  private request: http.ClientRequest | undefined;
  private pending = '';
  private fields: { event?: string; id?: string; data: string[] } = { data: [] };
  private readonly waiters: Array<(event: { id?: string; event?: string; data: string; at: number }) => void> = [];
  private readonly queue: Array<{ id?: string; event?: string; data: string; at: number }> = [];
  status = 0;
  contentType = '';
  ended = false;

  open(url: string, headers: Record<string, string>): Promise<void> {
    return new Promise((resolve, reject) => {
      this.request = http.get(url, { headers: { accept: 'text/event-stream', ...headers } }, (response) => {
        this.status = response.statusCode ?? 0;
        this.contentType = String(response.headers['content-type'] ?? '');
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => this.feed(chunk, performance.now()));
        response.on('end', () => (this.ended = true));
        response.on('error', () => (this.ended = true));
        resolve();
      });
      this.request.on('error', reject);
    });
  }

  private feed(chunk: string, at: number): void {
    this.pending += chunk;
    let newline: number;
    while ((newline = this.pending.search(/\r?\n/)) >= 0) {
      const line = this.pending.slice(0, newline);
      this.pending = this.pending.slice(newline + (this.pending[newline] === '\r' ? 2 : 1));
      if (line === '') {
        if (this.fields.data.length || this.fields.event || this.fields.id) {
          const event = { id: this.fields.id, event: this.fields.event, data: this.fields.data.join('\n'), at };
          const waiter = this.waiters.shift();
          if (waiter) waiter(event);
          else this.queue.push(event);
        }
        this.fields = { data: [] };
        continue;
      }
      if (line.startsWith(':')) continue; // a comment (": waiting")
      const colon = line.indexOf(':');
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'data') this.fields.data.push(value);
      else if (name === 'id') this.fields.id = value;
      else if (name === 'event') this.fields.event = value;
    }
  }

  /** The next dispatched event (undefined after timeoutMs). */
  next(timeoutMs: number): Promise<{ id?: string; event?: string; data: string; at: number } | undefined> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const index = this.waiters.indexOf(waiter);
        if (index >= 0) this.waiters.splice(index, 1);
        resolve(undefined);
      }, timeoutMs);
      const waiter = (event: { id?: string; event?: string; data: string; at: number }) => {
        clearTimeout(timer);
        resolve(event);
      };
      this.waiters.push(waiter);
    });
  }

  /** Events already read and not taken (none are expected between rounds). */
  get queued(): number {
    return this.queue.length;
  }

  close(): void {
    this.request?.destroy();
  }
}

/** Part 1: one open SSE feed of the dashboard; each webhook's event must arrive on it, once. */
async function sseRun(service: Service, stats: pg.Client, agent: http.Agent, send: ReturnType<typeof webhookSender>, cookie: string): Promise<PartResult> {
  const result = newResult();
  const { projectId, deploymentId } = await createDeployment(stats, 'bench-deploy-events-sse');
  const feed = new SseClient();
  // Reads of listEvents by the stream: two to park first (before and after listening); then, for each
  // event, one after the ring (which finds it) and two to park again.
  const base = await eventReads(stats);
  await feed.open(`${service.baseUrl}/projects/${projectId}/deployments/${deploymentId}/events?after=0`, { cookie });
  if (feed.status !== 200 || !feed.contentType.startsWith('text/event-stream')) {
    throw new Error(`the SSE feed answered ${feed.status} (${feed.contentType})`);
  }
  const hello = await feed.next(10_000);
  if (hello?.event !== 'hello') throw new Error(`the SSE feed did not start with a hello event: ${JSON.stringify(hello)}`);
  const seen = new Map<number, number>();
  const total = warmup + eventCount;
  try {
    for (let step = 1; step <= total; step++) {
      const measured = step > warmup;
      const parkStart = performance.now();
      const parked = await parkedAt(stats, base + 2 + 3 * (step - 1));
      if (parked === undefined) {
        result.notParked++;
        result.problems.push(`SSE step ${step}: not parked within ${PARK_TIMEOUT_MS} ms (${(await eventReads(stats)) - base} reads, expected ${2 + 3 * (step - 1)})`);
      } else if (measured) result.parkWait.push(performance.now() - parkStart);
      if (feed.queued) {
        result.problems.push(`SSE step ${step}: ${feed.queued} unexpected events already on the stream`);
      }
      const { response, applied, message } = await send(deploymentId, step);
      if (!applied) {
        result.failures++;
        result.problems.push(`SSE step ${step}: webhook ${response.status} ${response.body.slice(0, 120)}`);
        continue;
      }
      const event = await feed.next((WAIT_SECONDS + 5) * 1000);
      if (!event) {
        result.missed++;
        result.problems.push(`SSE step ${step}: no event on the stream within ${WAIT_SECONDS + 5} s${feed.ended ? ' (the stream ended)' : ''}`);
        continue;
      }
      const view = JSON.parse(event.data) as EventView;
      seen.set(view.seq, (seen.get(view.seq) ?? 0) + 1);
      if (event.event !== 'deployment' || event.id !== String(view.seq) || view.seq !== step || view.message !== message) {
        result.failures++;
        result.problems.push(`SSE step ${step}: got ${event.event} id ${event.id} seq ${view.seq} "${view.message}"`);
        continue;
      }
      if (!measured) continue;
      result.webhookRoundTrip.push(response.doneAt - response.sentAt);
      result.fromResponse.push(event.at - response.doneAt);
      result.fromSent.push(event.at - response.sentAt);
      if (event.at < response.doneAt) result.beforeResponse++;
    }
    // Anything else the stream sends within a moment is a duplicate (or an event nobody sent).
    for (;;) {
      const extra = await feed.next(500);
      if (!extra) break;
      if (extra.event !== 'deployment') continue;
      const view = JSON.parse(extra.data) as EventView;
      seen.set(view.seq, (seen.get(view.seq) ?? 0) + 1);
    }
    const reads = (await eventReads(stats)) - base;
    if (reads !== 2 + 3 * total) {
      result.readsOff++;
      result.problems.push(`SSE: ${reads} reads of the log in all, expected ${2 + 3 * total}`);
    }
  } finally {
    feed.close();
  }
  for (let seq = 1; seq <= total; seq++) {
    const count = seen.get(seq) ?? 0;
    if (count > 1) result.duplicates += count - 1;
  }
  for (const seq of seen.keys()) {
    if (seq < 1 || seq > total) result.duplicates++;
  }
  return result;
}

/** Part 2: a GET .../events?after=N&wait=25 parked before each webhook; it must answer with that event. */
async function waitRun(service: Service, stats: pg.Client, agent: http.Agent, send: ReturnType<typeof webhookSender>): Promise<PartResult> {
  const result = newResult();
  const { projectId, deploymentId } = await createDeployment(stats, 'bench-deploy-events-wait');
  const waitAgent = new http.Agent({ keepAlive: true, maxSockets: 2 });
  const url = (after: number) => `${service.baseUrl}/project/${projectId}/deployments/${deploymentId}/events?after=${after}&wait=${WAIT_SECONDS}`;
  const seen = new Map<number, number>();
  const total = warmup + eventCount;
  let after = 0;
  try {
    for (let step = 1; step <= total; step++) {
      const measured = step > warmup;
      // Every read of the previous round was counted before its response went out.
      const base = await eventReads(stats);
      let answered = false;
      const waiting = timedRequest(waitAgent, url(after), { headers: OWNER_HEADERS, timeoutMs: (WAIT_SECONDS + 30) * 1000 }).finally(() => (answered = true));
      const parkStart = performance.now();
      // Parked: the first read, the doorbell listen, the read after it (both found nothing).
      const parked = await parkedAt(stats, base + 2);
      if (parked === undefined || answered) {
        result.notParked++;
        result.problems.push(`wait step ${step}: ${answered ? 'answered' : 'not parked'} before the webhook (${(await eventReads(stats)) - base} reads)`);
      } else if (measured) result.parkWait.push(performance.now() - parkStart);
      const { response, applied, message } = await send(deploymentId, step);
      const answer = await waiting;
      if (!applied || answer.status !== 200) {
        result.failures++;
        result.problems.push(`wait step ${step}: webhook ${response.status} ${response.body.slice(0, 120)}; wait ${answer.status} ${answer.body.slice(0, 120)}`);
        continue;
      }
      const reads = (await eventReads(stats)) - base;
      if (reads !== 3) result.problems.push(`wait step ${step}: ${reads} reads of the log (expected 3: before and after listening, after the ring)`);
      if (reads !== 3) result.readsOff++;
      const list = (JSON.parse(answer.body) as { list: EventView[] }).list;
      for (const event of list) seen.set(event.seq, (seen.get(event.seq) ?? 0) + 1);
      const event = list.find((candidate) => candidate.seq === step);
      if (!event || event.message !== message) {
        result.missed++;
        result.problems.push(`wait step ${step}: answered ${JSON.stringify(list).slice(0, 160)} after ${(answer.doneAt - answer.sentAt).toFixed(0)} ms`);
        continue;
      }
      after = Math.max(after, ...list.map((entry) => entry.seq));
      if (!measured) continue;
      result.webhookRoundTrip.push(response.doneAt - response.sentAt);
      result.fromResponse.push(answer.doneAt - response.doneAt);
      result.fromSent.push(answer.doneAt - response.sentAt);
      if (answer.doneAt < response.doneAt) result.beforeResponse++;
    }
  } finally {
    waitAgent.destroy();
  }
  for (const count of seen.values()) if (count > 1) result.duplicates += count - 1;
  return result;
}

function row(label: string, values: number[], expected: number): string {
  return `| ${label} | ${values.length}/${expected} | ${ms(percentile(values, 50))} | ${ms(percentile(values, 99))} | ${ms(Math.max(...values))} | ${ms(Math.min(...values))} |`;
}

async function main(): Promise<number> {
  const machineLine = machine();
  console.error(`[bench] deploy-events: ${eventCount} events per part (+${warmup} unmeasured), wait=${WAIT_SECONDS}`);
  const secret = randomBytes(32).toString('hex');
  const service = await startService(
    'bench_deploy_events',
    { INSTALL_WEBHOOK_SECRET: secret },
    { snapshot: true, privatePostgres: { shared_preload_libraries: 'pg_stat_statements', max_connections: 100 } },
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  const stats = new pg.Client({ connectionString: service.databaseUrl });
  let sse: PartResult;
  let wait: PartResult;
  let database = '';
  let statements: Array<{ calls: string; mean: number; total: number; query: string }> = [];
  try {
    database = service.postgres;
    await stats.connect();
    await stats.query('create extension if not exists pg_stat_statements');
    await stats.query('select pg_stat_statements_reset()'); // the migrations' statements are not what is measured
    const db = drizzle({ client: stats, schema }) as unknown as AnyDatabase;
    // A dashboard session as the tests make one (tests/integration/dashboard.test.ts): the row createSession inserts.
    const cookie = `stacker_session=${await createSession(db, { id: OWNER, role: 'group_user', email: `${OWNER}@example.test` })}`;
    const send = webhookSender(service, agent, secret);
    // Warm the isolate and the introspection cache of the owner's bearer.
    const warm = await timedRequest(agent, `${service.baseUrl}/project`, { headers: OWNER_HEADERS });
    if (warm.status !== 200) throw new Error(`GET /project answered ${warm.status}: ${warm.body.slice(0, 200)}`);
    // The waiting requests first: each ends before the next starts, so no reader is left behind to
    // read the log while the SSE part counts its reads.
    wait = await waitRun(service, stats, agent, send);
    sse = await sseRun(service, stats, agent, send, cookie);
    // Where the database's share of the time goes: the statements that ran, by total execution time.
    statements = (
      await stats.query<{ calls: string; mean: number; total: number; query: string }>(
        `select sum(calls) as calls, sum(total_exec_time) / sum(calls) as mean, sum(total_exec_time) as total, query from pg_stat_statements
          where query not like '%pg_stat_statements%' and dbid = (select oid from pg_database where datname = current_database())
          group by query order by total desc limit 8`,
      )
    ).rows;
  } finally {
    await stats.end().catch(() => undefined);
    agent.destroy();
    await service.stop();
  }

  console.log(`Machine: ${machineLine}`);
  console.log(`Command: ${command}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(
    `A signed POST /webhooks/install (X-Install-Signature, fresh X-Install-Message-Id) appends one event; ${eventCount} events per reader ` +
      `(+${warmup} unmeasured), one at a time, each sent once the reader is parked on the doorbell (pg_stat_statements count of the ` +
      `event-log read) and waited for before the next. Database: ${database}\n`,
  );
  console.log('| reader | measured from webhook | events seen | p50 ms | p99 ms | max ms | min ms |');
  console.log('|---|---|--:|--:|--:|--:|--:|');
  for (const [name, part] of [
    ['open SSE feed (dashboard)', sse],
    [`GET events?after=N&wait=${WAIT_SECONDS}`, wait],
  ] as const) {
    console.log(row(`${name} | response arrived`, part.fromResponse, eventCount));
    console.log(row(`${name} | request sent`, part.fromSent, eventCount));
  }
  console.log('');
  for (const [name, part] of [
    ['SSE', sse],
    ['wait', wait],
  ] as const) {
    console.log(
      `${name}: webhook round trip p50 ${ms(percentile(part.webhookRoundTrip, 50))} ms, p99 ${ms(percentile(part.webhookRoundTrip, 99))} ms; ` +
        `parking took p50 ${ms(percentile(part.parkWait, 50))} ms, max ${ms(Math.max(...part.parkWait))} ms; ` +
        `missed ${part.missed}, seen twice ${part.duplicates}, not parked ${part.notParked}, read counts off ${part.readsOff}, before the webhook's response ${part.beforeResponse}, failed ${part.failures}`,
    );
    for (const problem of part.problems.slice(0, 5)) console.log(`  ${problem}`);
  }
  console.log('\nPostgreSQL execution time by statement (pg_stat_statements, whole run; its own polling left out, the bench\'s few inserts included):');
  for (const statement of statements) {
    console.log(`  ${String(statement.calls).padStart(5)} calls, mean ${statement.mean.toFixed(3)} ms: ${statement.query.replace(/\s+/g, ' ').slice(0, 110)}`);
  }
  const bad = [sse, wait].reduce((sum, part) => sum + part.missed + part.duplicates + part.notParked + part.readsOff + part.failures, 0);
  if (bad) console.error(`[bench] deploy-events: ${bad} events went wrong`);
  return bad ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] deploy-events failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
