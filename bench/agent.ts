// Agent command delivery: with N agents long-polling at once, the time from `POST /api/v1/commands`
// answering to the agent holding that command, and how many waiting agents one local Worker holds.
//   node bench/agent.ts [--agents 1,100,1000] [--capacity 2000,3000] [--commands 50] [--interval 200]
//                       [--settle 2] [--ready 1000] [--ramp 0] [--search on|off] [--postgres private|shared]
//                       [--host wrangler|miniflare] [--register off|on]
//   (or BENCH_AGENTS, BENCH_CAPACITY, BENCH_COMMANDS, BENCH_INTERVAL, BENCH_SETTLE, BENCH_READY,
//    BENCH_RAMP, BENCH_SEARCH, BENCH_POSTGRES, BENCH_HOST, BENCH_REGISTER)
// --host: what serves the Worker (bench/lib/service.ts): wrangler dev (the default, as `npm start`), or
// Miniflare alone (one workerd, without the proxy workerd wrangler puts in front, which runs out of
// open files at a few thousand held agents here).
// --register on: the agents' rows are not inserted; before the level's polls start, each agent registers
// through the API (anonymous POST /api/v1/agent/register, 32 at a time, not timed), as the real agent
// does on its first start, so its first poll finds the object primed. All register from 127.0.0.1, so
// the anonymous per-address rate limit is off for the run.
//
// For each N of --agents: N agents (one deployment each, one owner; rows inserted directly) poll
// GET /api/v1/agent/commands/wait/{hash}?timeout=25 as the real agent does (its headers, a client
// timeout of 30 s, a new poll at once after every answer, 5 s of back-off after an error), all started
// at once (or --ramp polls per second). "All waiting" = every agent's first poll has reached the
// service (its heartbeat is in the database, written just before the claim and the doorbell listen),
// then a fixed --settle; "held" = at that moment all N polls are open, and no poll fails (error
// answer, or no answer within the client timeout) while the level runs. Then a
// command every --interval ms, each for an agent whose poll has been open --ready ms: every agent once
// when N <= 100 (at least --commands in all), else --commands agents at random; measured from the POST's
// answer arriving to the wait's answer carrying that command arriving. The --capacity levels run
// while every level before them held; when a level does not hold, --search bisects between the
// largest level that held and it (polls only, no commands) for the largest N held.
//
// A waiting request lets its Postgres connection go, but agents that start at once each open one
// for their first poll, so many agents need many connections: by default the service runs on a private PostgreSQL server with
// max_connections above the largest level (startTemporaryPostgres, scripts/embedded-database.ts); --postgres shared uses the server
// at DATABASE_URL, whose limit (100 on these machines) is then what fails first, and which every other
// user of that server shares meanwhile.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { ms, openFilesLimit, percentile, runWithOpenFiles, shellQuote, sleep, timedRequest } from './lib/measure.ts';
import { describeHost, machine, startService, type Service, type WorkerHost } from './lib/service.ts';
import { registerEach } from './load/agents.ts';

const POLL_TIMEOUT_SECONDS = 25;
/** The real agent's HTTP client timeout is the poll timeout + 5 s; after an error it sleeps 5 s (agent-protocol §2.3). */
const CLIENT_TIMEOUT_MS = (POLL_TIMEOUT_SECONDS + 5) * 1000;
const ERROR_BACKOFF_MS = 5000;
const OWNER = 'benchowner';
const OWNER_HEADERS = { authorization: `Bearer user-group_user-${OWNER}`, 'content-type': 'application/json' };

function settings() {
  const usage =
    'usage: node bench/agent.ts [--agents 1,100,1000] [--capacity 2000,3000] [--commands n] [--interval ms] [--settle s] [--ready ms] [--ramp polls/s] [--search on|off] [--postgres private|shared] [--host wrangler|miniflare] [--register off|on]';
  const list = (value: string) => (value.trim() === '' ? [] : value.split(',').map((part) => Number(part.trim())));
  try {
    const names = ['agents', 'capacity', 'commands', 'interval', 'settle', 'ready', 'ramp', 'search', 'postgres', 'host', 'register'] as const;
    const { values } = parseArgs({ options: Object.fromEntries(names.map((name) => [name, { type: 'string' }])) as Record<(typeof names)[number], { type: 'string' }> });
    const value = (name: (typeof names)[number], fallback: string) => (values[name] as string | undefined) ?? process.env[`BENCH_${name.toUpperCase()}`] ?? fallback;
    const result = {
      levels: list(value('agents', '1,100,1000')),
      capacity: list(value('capacity', '2000,3000')),
      commands: Number(value('commands', '50')),
      interval: Number(value('interval', '200')),
      settle: Number(value('settle', '2')),
      ready: Number(value('ready', '1000')),
      ramp: Number(value('ramp', '0')),
      search: value('search', 'on'),
      postgres: value('postgres', 'private'),
      host: value('host', 'wrangler') as WorkerHost,
      register: value('register', 'off'),
    };
    const positive = (n: number) => Number.isInteger(n) && n > 0;
    if (
      result.levels.length > 0 &&
      [...result.levels, ...result.capacity, result.commands, result.interval].every(positive) &&
      [result.settle, result.ready, result.ramp].every((n) => Number.isInteger(n) && n >= 0) &&
      ['on', 'off'].includes(result.search) &&
      ['private', 'shared'].includes(result.postgres) &&
      ['wrangler', 'miniflare'].includes(result.host) &&
      ['on', 'off'].includes(result.register)
    ) {
      return result;
    }
    console.error(`${usage}\n(whole numbers; lists comma-separated; --agents not empty; --host wrangler or miniflare; --register on or off)`);
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  process.exit(2);
}
const options = settings();
const command = [
  ...['AGENTS', 'CAPACITY', 'COMMANDS', 'INTERVAL', 'SETTLE', 'READY', 'RAMP', 'SEARCH', 'POSTGRES', 'HOST', 'REGISTER'].flatMap((name) =>
    process.env[`BENCH_${name}`] ? [`BENCH_${name}=${shellQuote(process.env[`BENCH_${name}`]!)}`] : [],
  ),
  'node bench/agent.ts',
  ...process.argv.slice(2).map(shellQuote),
].join(' ');

interface BenchAgent {
  index: number;
  id: string;
  token: string;
  hash: string;
  /** performance.now() when its current poll was sent; undefined while it has none open. */
  pollSince: number | undefined;
  /** A command was created for it and has not reached it yet. */
  busy: boolean;
}

/**
 * N agents, each with its own deployment, all in one project of OWNER: inserted in bulk, as registration
 * leaves them, or (--register on) registered through the API.
 */
async function createAgents(service: Service, pool: pg.Pool, level: number, count: number): Promise<BenchAgent[]> {
  const tokens = Array.from({ length: count }, () => randomBytes(36).toString('base64url'));
  const hashes = Array.from({ length: count }, (_, i) => `deployment_bench${level}_${i}_${randomBytes(6).toString('hex')}`);
  const tokenHashes = tokens.map((token) => createHash('sha256').update(token).digest('hex'));
  const client = await pool.connect();
  try {
    await client.query('begin');
    const project = await client.query<{ id: number }>(
      `insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), $1, $2, '{}') returning id`,
      [OWNER, `bench-agents-${count}`],
    );
    await client.query(
      `insert into deployment (project_id, metadata, status, deployment_hash, user_id)
       select $1, '{}', 'pending', hash, $2 from unnest($3::text[]) as hash`,
      [project.rows[0]!.id, OWNER, hashes],
    );
    if (options.register === 'on') {
      await client.query('commit');
      return await registerAll(service, hashes);
    }
    const inserted = await client.query<{ id: string; deployment_hash: string }>(
      `insert into agents (deployment_hash, token_hash, version)
       select hash, token_hash, '0.2.1' from unnest($1::text[], $2::text[]) as t(hash, token_hash)
       returning id, deployment_hash`,
      [hashes, tokenHashes],
    );
    await client.query('commit');
    const ids = new Map(inserted.rows.map((row) => [row.deployment_hash, row.id]));
    return hashes.map((hash, index) => ({ index, id: ids.get(hash)!, token: tokens[index]!, hash, pollSince: undefined, busy: false }));
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** Each deployment's agent registers as the real agent does on its first start (agent-protocol.md §2.1), 32 at a time. */
async function registerAll(service: Service, hashes: string[]): Promise<BenchAgent[]> {
  const registered = await registerEach(service.baseUrl, hashes, 32);
  return registered.map((agent, index) => ({ index, id: agent.agentId, token: agent.token, hash: agent.hash, pollSince: undefined, busy: false }));
}

/** The headers the real agent sends (tests/helpers/agent-simulator.ts): the signature of an empty body. */
function agentHeaders(agent: BenchAgent): Record<string, string> {
  return {
    'x-agent-id': agent.id,
    'x-timestamp': String(Math.floor(Date.now() / 1000)),
    'x-request-id': crypto.randomUUID(),
    'x-agent-signature': createHmac('sha256', agent.token).update('').digest('base64'),
    authorization: `Bearer ${agent.token}`,
    accept: '*/*',
  };
}

/** Client connections to the service's database (this benchmark's own included). */
async function connections(client: pg.PoolClient | pg.Pool): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    "select count(*)::int as n from pg_stat_activity where datname = current_database() and backend_type = 'client backend'",
  );
  return rows[0]!.n;
}

interface LevelResult {
  agents: number;
  /** A bisection probe: polls only, no commands. */
  probe: boolean;
  /** Every agent's first poll reached the service, all were open after the settle time, and no poll had failed. */
  held: boolean;
  /** Seconds from the first poll to the last agent's first poll reaching the service (undefined: never). */
  reachedSeconds: number | undefined;
  reached: number;
  openAtCheck: number;
  expected: number;
  delivered: number;
  duplicates: number;
  misdelivered: number;
  postFailures: number;
  noWaitingAgent: number;
  /** ms from the POST's response arriving to the wait's response arriving, per delivered command. */
  fromResponse: number[];
  /** ms from the POST being sent. */
  fromSent: number[];
  post: number[];
  answeredBeforePost: number;
  polls: number;
  /** Most client connections to the service's database at once (sampled every 250 ms; this benchmark's 2 included). */
  peakConnections: number;
  pollNon200: Map<number, number>;
  /** The first answer of each non-200 status. */
  non200Bodies: Map<number, string>;
  pollErrors: number;
  /** The first network error or client timeout of a poll, and how long after the level started it came. */
  firstPollError: string | undefined;
  firstProblem: string | undefined;
}

interface Sent {
  agent: BenchAgent;
  postSent: number;
  postDone: number;
}

async function runLevel(service: Service, pool: pg.Pool, level: number, count: number, probe: boolean): Promise<LevelResult> {
  const agents = await createAgents(service, pool, level, count);
  const commandCount = probe ? 0 : count <= 100 ? Math.max(count, options.commands) : options.commands;
  const startMode = options.ramp > 0 ? `${options.ramp} per second` : 'at once';
  console.error(`[bench] ${count} agents${probe ? ' (probe)' : ''}: created; starting ${count} polls ${startMode}`);
  const pollAgent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY, maxFreeSockets: count + 10 });
  const postAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const result: LevelResult = {
    agents: count,
    probe,
    held: false,
    reachedSeconds: undefined,
    reached: 0,
    openAtCheck: 0,
    expected: 0,
    delivered: 0,
    duplicates: 0,
    misdelivered: 0,
    postFailures: 0,
    noWaitingAgent: 0,
    fromResponse: [],
    fromSent: [],
    post: [],
    answeredBeforePost: 0,
    polls: 0,
    peakConnections: 0,
    pollNon200: new Map(),
    non200Bodies: new Map(),
    pollErrors: 0,
    firstPollError: undefined,
    firstProblem: undefined,
  };
  const problem = (text: string) => {
    if (!result.firstProblem) {
      result.firstProblem = text;
      console.error(`[bench] ${count} agents: first problem: ${text}`);
    }
  };
  /** command_id -> when each answer carrying it arrived, and to whom. */
  const deliveries = new Map<string, Array<{ agent: BenchAgent; at: number }>>();
  const sent = new Map<string, Sent>();
  let stopping = false;

  async function pollLoop(agent: BenchAgent, delayMs: number): Promise<void> {
    if (delayMs > 0) await sleep(delayMs);
    const url = `${service.baseUrl}/api/v1/agent/commands/wait/${agent.hash}?timeout=${POLL_TIMEOUT_SECONDS}`;
    while (!stopping) {
      agent.pollSince = performance.now();
      result.polls++;
      try {
        const response = await timedRequest(pollAgent, url, { headers: agentHeaders(agent), timeoutMs: CLIENT_TIMEOUT_MS });
        agent.pollSince = undefined;
        if (response.status !== 200) {
          result.pollNon200.set(response.status, (result.pollNon200.get(response.status) ?? 0) + 1);
          if (!result.non200Bodies.has(response.status)) result.non200Bodies.set(response.status, response.body.slice(0, 300));
          problem(`a poll answered ${response.status}: ${response.body.slice(0, 200)}`);
          await sleep(ERROR_BACKOFF_MS);
          continue;
        }
        const item = (JSON.parse(response.body) as { item: { command_id: string; deployment_hash: string } | null }).item;
        if (item) {
          const seen = deliveries.get(item.command_id) ?? [];
          seen.push({ agent, at: response.doneAt });
          deliveries.set(item.command_id, seen);
          agent.busy = false;
          if (item.deployment_hash !== agent.hash) problem(`agent ${agent.index} received a command of ${item.deployment_hash}`);
        }
      } catch (error) {
        const message = `a poll failed ${((performance.now() - agent.pollSince!) / 1000).toFixed(1)} s after it was sent, ${((performance.now() - started) / 1000).toFixed(1)} s into the level: ${error instanceof Error ? error.message : String(error)}`;
        agent.pollSince = undefined;
        result.pollErrors++;
        result.firstPollError ??= message;
        problem(message);
        await sleep(ERROR_BACKOFF_MS);
      }
    }
  }

  // Connections to the database, sampled while the level runs (on a connection of its own).
  let sampling = true;
  const sampler = (async () => {
    const client = await pool.connect();
    try {
      while (sampling) {
        result.peakConnections = Math.max(result.peakConnections, await connections(client));
        await sleep(250);
      }
    } catch (error) {
      problem(`sampling connections failed: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      client.release();
    }
  })();

  const started = performance.now();
  const loops = agents.map((agent, index) => pollLoop(agent, options.ramp > 0 ? (index * 1000) / options.ramp : 0));

  // Waiting = the agent's first poll got past authentication to its heartbeat update; then a settle time.
  const ids = agents.map((agent) => agent.id);
  const reachDeadline = started + 30_000 + count * 30 + (options.ramp > 0 ? (count * 1000) / options.ramp : 0);
  while (performance.now() < reachDeadline) {
    const { rows } = await pool.query<{ n: number }>('select count(*)::int as n from agents where id = any($1::uuid[]) and last_heartbeat is not null', [ids]);
    result.reached = rows[0]!.n;
    if (result.reached === count) {
      result.reachedSeconds = (performance.now() - started) / 1000;
      break;
    }
    await sleep(250);
  }
  console.error(
    `[bench] ${count} agents: ${result.reached} reached the wait` +
      (result.reachedSeconds === undefined ? ' before the deadline' : ` in ${result.reachedSeconds.toFixed(1)} s`) +
      `; settling ${options.settle} s`,
  );
  await sleep(options.settle * 1000);
  result.openAtCheck = agents.filter((agent) => agent.pollSince !== undefined).length;
  if (result.reachedSeconds === undefined) {
    problem(`only ${result.reached} of ${count} polls reached the wait within ${((reachDeadline - started) / 1000).toFixed(0)} s`);
  } else if (result.openAtCheck < count) {
    problem(`only ${result.openAtCheck} of ${count} polls open after the settle time`);
  }

  // The commands: one every --interval ms, each for an agent whose current poll has been open --ready ms.
  const order = [...agents].sort(() => Math.random() - 0.5);
  let cursor = 0;
  const isReady = (agent: BenchAgent) => !agent.busy && agent.pollSince !== undefined && performance.now() - agent.pollSince >= options.ready;
  async function nextReady(): Promise<BenchAgent | undefined> {
    const deadline = performance.now() + 30_000;
    while (performance.now() < deadline) {
      for (let step = 0; step < order.length; step++) {
        const agent = order[(cursor + step) % order.length]!;
        if (isReady(agent)) {
          cursor = (cursor + step + 1) % order.length;
          return agent;
        }
      }
      await sleep(20);
    }
    return undefined;
  }
  async function create(agent: BenchAgent): Promise<void> {
    const body = JSON.stringify({ deployment_hash: agent.hash, command_type: 'health', parameters: { app_code: 'bench' } });
    try {
      const response = await timedRequest(postAgent, `${service.baseUrl}/api/v1/commands`, { method: 'POST', headers: OWNER_HEADERS, body, timeoutMs: 60_000 });
      result.post.push(response.doneAt - response.sentAt);
      if (response.status !== 201) {
        result.postFailures++;
        agent.busy = false;
        problem(`POST /api/v1/commands answered ${response.status}: ${response.body.slice(0, 200)}`);
        return;
      }
      const id = (JSON.parse(response.body) as { item: { command_id: string } }).item.command_id;
      sent.set(id, { agent, postSent: response.sentAt, postDone: response.doneAt });
    } catch (error) {
      result.postFailures++;
      agent.busy = false;
      problem(`POST /api/v1/commands failed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (commandCount > 0) console.error(`[bench] ${count} agents: ${commandCount} commands, one every ${options.interval} ms`);
  const posts: Array<Promise<void>> = [];
  const firstTick = performance.now();
  for (let k = 0; k < commandCount; k++) {
    const wait = firstTick + k * options.interval - performance.now();
    if (wait > 0) await sleep(wait);
    const agent = await nextReady();
    if (!agent) {
      result.noWaitingAgent++;
      problem('no agent had a poll open for 30 s');
      continue;
    }
    agent.busy = true;
    posts.push(create(agent));
  }
  await Promise.all(posts);
  result.expected = sent.size;
  // Every created command should reach its agent; give stragglers up to 30 s.
  const deliveryDeadline = performance.now() + 30_000;
  while (performance.now() < deliveryDeadline && [...sent.keys()].some((id) => !deliveries.has(id))) await sleep(50);

  // Stop re-polling and let every open poll end by itself (within the client timeout); an answer that
  // arrives meanwhile still counts (duplicates).
  console.error(`[bench] ${count} agents: letting the open polls end`);
  stopping = true;
  await Promise.all(loops);
  sampling = false;
  await sampler;
  pollAgent.destroy();
  postAgent.destroy();
  // Held: all N reached the wait and were open at once, and no poll failed while the level ran.
  const pollFailures = result.pollErrors + [...result.pollNon200.values()].reduce((a, b) => a + b, 0);
  result.held = result.reachedSeconds !== undefined && result.openAtCheck === count && pollFailures === 0;

  for (const [id, entry] of sent) {
    const seen = deliveries.get(id);
    if (!seen) {
      problem(`command ${id} for agent ${entry.agent.index} never arrived`);
      continue;
    }
    result.delivered++;
    if (seen.length > 1) result.duplicates += seen.length - 1;
    const first = seen[0]!;
    if (first.agent !== entry.agent) result.misdelivered++;
    if (first.at < entry.postDone) result.answeredBeforePost++;
    result.fromResponse.push(first.at - entry.postDone);
    result.fromSent.push(first.at - entry.postSent);
  }
  for (const [id, seen] of deliveries) {
    if (!sent.has(id)) {
      result.misdelivered += seen.length;
      problem(`command ${id} arrived but was not created by this run`);
    }
  }
  console.error(
    `[bench] ${count} agents: held ${result.held ? 'yes' : 'no'}; ${result.delivered}/${result.expected} delivered, ${result.duplicates} duplicates; peak ${result.peakConnections} database connections`,
  );

  // The next level starts on a quiet service: wait (up to 60 s) for the requests' connections to close.
  const quietDeadline = performance.now() + 60_000;
  while (performance.now() < quietDeadline && (await connections(pool)) > 2) await sleep(500);
  return result;
}

function failures(result: LevelResult): string {
  return [...result.pollNon200].map(([status, n]) => `${n}×${status}`).join(', ') || '0';
}

function levelRow(result: LevelResult): string {
  return [
    result.agents,
    result.held ? 'yes' : `**no** (${result.openAtCheck} open)`,
    result.reachedSeconds === undefined ? `not all (${result.reached})` : result.reachedSeconds.toFixed(1),
    `${result.delivered}/${result.expected}`,
    result.duplicates,
    ms(percentile(result.fromResponse, 50)),
    ms(percentile(result.fromResponse, 99)),
    ms(result.fromResponse.length ? Math.max(...result.fromResponse) : Number.NaN),
    `${ms(percentile(result.fromSent, 50))} / ${ms(percentile(result.fromSent, 99))}`,
    ms(percentile(result.post, 50)),
    result.peakConnections,
    result.polls,
    failures(result),
    result.pollErrors,
    result.postFailures,
  ].join(' | ');
}

function probeRow(result: LevelResult): string {
  return [
    result.agents,
    result.held ? 'yes' : `**no** (${result.openAtCheck} open)`,
    result.reachedSeconds === undefined ? `not all (${result.reached})` : result.reachedSeconds.toFixed(1),
    result.peakConnections,
    result.polls,
    failures(result),
    result.pollErrors,
  ].join(' | ');
}

async function main(): Promise<number> {
  const largest = Math.max(...options.levels, ...options.capacity);
  // Each held agent costs ~4-6 descriptors in each workerd (wrangler's proxy: 8,047 at 2,000 agents, 17,859 at 3,000).
  const code = await runWithOpenFiles(largest * 6 + 1024);
  if (code !== undefined) return code;

  const machineLine = machine();
  const noFile = openFilesLimit();
  console.error(`[bench] agent: levels ${options.levels.join(', ')}; capacity ${options.capacity.join(', ') || 'none'}; open files limit ${noFile}; Worker host: ${describeHost(options.host)}`);
  const service = await startService(
    'bench_agent',
    options.register === 'on' ? { RATE_LIMIT_ANONYMOUS_PER_MINUTE: '0' } : {},
    { snapshot: true, host: options.host, ...(options.postgres === 'private' ? { privatePostgres: { max_connections: largest + 200 } } : {}) },
  );
  const pool = new pg.Pool({ connectionString: service.databaseUrl, max: 2 });
  const results: LevelResult[] = [];
  let level = 0;
  try {
    for (const count of options.levels) results.push(await runLevel(service, pool, level++, count, false));
    if (results.every((result) => result.held)) {
      for (const count of options.capacity) {
        const result = await runLevel(service, pool, level++, count, false);
        results.push(result);
        if (!result.held) break;
      }
    }
    // The largest N held: bisect between the largest level that held below the first failure and it.
    const failed = results.find((result) => !result.held);
    if (failed && options.search === 'on') {
      let low = Math.max(0, ...results.filter((result) => result.held && result.agents < failed.agents).map((result) => result.agents));
      let high = failed.agents;
      const step = Math.max(10, Math.round(high / 10 / 10) * 10);
      while (high - low > step) {
        const middle = Math.round((low + high) / 2 / step) * step;
        if (middle <= low || middle >= high) break;
        const probe = await runLevel(service, pool, level++, middle, true);
        results.push(probe);
        if (probe.held) low = middle;
        else high = middle;
      }
    }
  } finally {
    await pool.end();
    await service.stop();
  }

  const measured = results.filter((result) => !result.probe);
  const probes = results.filter((result) => result.probe);
  const held = results.filter((result) => result.held).map((result) => result.agents);
  const largestHeld = Math.max(0, ...held);
  const smallestFailed = results.filter((result) => !result.held).sort((a, b) => a.agents - b.agents)[0];
  const broken = measured.filter((result) => result.delivered < result.expected || result.duplicates > 0 || result.misdelivered > 0);

  console.log(`Machine: ${machineLine}`);
  console.log(`Command: ${command}`);
  console.log(`Date: ${new Date().toISOString()}`);
  console.log(
    `N agents long-poll GET /api/v1/agent/commands/wait/{hash}?timeout=${POLL_TIMEOUT_SECONDS} as the real agent does (client timeout ${CLIENT_TIMEOUT_MS / 1000} s, ` +
      `${ERROR_BACKOFF_MS / 1000} s back-off after an error), started ${options.ramp > 0 ? `${options.ramp} per second` : 'all at once'}; ` +
      `"waiting" = every first poll reached its heartbeat update, then a fixed ${options.settle} s settle; ` +
      `a command every ${options.interval} ms (POST /api/v1/commands) for an agent whose poll had been open >= ${options.ready} ms; ` +
      `latency = the wait's answer arrived - the POST's answer arrived. "Held" = all N open at once and no poll failed during the level. ` +
      `Database: ${service.postgres}. Worker host: ${describeHost(service.host)}. Open files limit: ${noFile}\n`,
  );
  console.log(
    '| agents | all held at once | s until all waiting | delivered | duplicates | p50 ms | p99 ms | max ms | p50 / p99 ms from POST sent | POST p50 ms | peak PG connections | polls | poll non-200 | poll errors | POST failures |',
  );
  console.log('|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const result of measured) console.log(`| ${levelRow(result)} |`);
  if (probes.length) {
    console.log('\nSearch for the largest N held (polls only):\n');
    console.log('| agents | all held at once | s until all waiting | peak PG connections | polls | poll non-200 | poll errors |');
    console.log('|--:|---|--:|--:|--:|--:|--:|');
    for (const result of probes) console.log(`| ${probeRow(result)} |`);
  }
  console.log('');
  console.log(`Largest N held waiting at once with no error: ${largestHeld || 'none'}`);
  if (smallestFailed) console.log(`Smallest N that failed: ${smallestFailed.agents}: ${smallestFailed.firstProblem ?? 'not all polls open'}`);
  else console.log(`No level failed, up to N=${largest}`);
  for (const result of results) {
    if (result.answeredBeforePost) console.log(`N=${result.agents}: ${result.answeredBeforePost} wait answers arrived before their POST's answer (negative latencies)`);
    if (result.noWaitingAgent) console.log(`N=${result.agents}: ${result.noWaitingAgent} commands skipped: no agent was waiting`);
    for (const [status, body] of result.non200Bodies) console.log(`N=${result.agents}: first ${status} answer: ${body}`);
    if (result.firstPollError) console.log(`N=${result.agents}: first poll error: ${result.firstPollError}`);
    if (result.firstProblem && !result.firstProblem.startsWith('a poll answered')) console.log(`N=${result.agents}: first problem: ${result.firstProblem}`);
  }
  if (broken.length) console.error(`[bench] lost, duplicated or misdelivered commands at N=${broken.map((result) => result.agents).join(', ')}`);
  return broken.length ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`[bench] agent failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
