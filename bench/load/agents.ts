// The agents of the load run: seeded straight into the database (one deployment each, spread over the
// users), then each one runs the real agent's loop (agent-protocol.md §2.3–2.6): long-poll
// GET /api/v1/agent/commands/wait/{hash}?timeout=30 with its signed headers and a client timeout of
// 35 s; a command is "executed" at once and reported (POST /api/v1/agent/commands/report, retried
// after 2, 4, 8 s on a 5xx or no answer), followed for health/logs/restart by POST /api/v1/apps/status;
// then it polls again at once. After a failed poll it sleeps 5 s.
import { createHash, createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type pg from 'pg';
import { sleep, timedRequest } from '../lib/measure.ts';
import { send, type Recorder } from './recorder.ts';

export const POLLING_TIMEOUT_SECONDS = 30;
const CLIENT_TIMEOUT_MS = (POLLING_TIMEOUT_SECONDS + 5) * 1000;
const POLLING_BACKOFF_MS = 5_000;
const REPORT_RETRY_DELAYS_MS = [2_000, 4_000, 8_000];
/** The commands after which the real agent also posts the app's status (§2.6). */
const APP_STATUS_AFTER = new Set(['health', 'logs', 'restart']);

export interface LoadAgent {
  index: number;
  id: string;
  token: string;
  hash: string;
  /** The user who owns its deployment (and creates its commands). */
  owner: string;
  /** A poll of this agent is open now. */
  polling: boolean;
}

export interface Delivery {
  agent: LoadAgent;
  /** performance.now() when the wait's answer carrying it arrived. */
  at: number;
}

/** What the agents saw, shared with the rest of the run. */
export interface AgentLedger {
  /** command_id -> every delivery of it to an agent, in order. */
  deliveries: Map<string, Delivery[]>;
  /** command_ids whose report was accepted (200). */
  reported: Set<string>;
  /** Reports refused for good or never answered, with the reason. */
  reportFailures: Map<string, string>;
}

/**
 * `count` agents, agent i owned by users[i % users.length]: per user one project holding its agents'
 * deployments (status completed: the agent runs on a deployed server), rows as registration leaves them.
 */
export async function seedAgents(pool: pg.Pool, count: number, users: string[], options: { register?: boolean } = {}): Promise<LoadAgent[]> {
  const agents: LoadAgent[] = Array.from({ length: count }, (_, index) => ({
    index,
    id: '',
    token: randomBytes(36).toString('base64url'),
    hash: `deployment_load_${index}_${randomBytes(6).toString('hex')}`,
    owner: users[index % users.length]!,
    polling: false,
  }));
  const client = await pool.connect();
  try {
    await client.query('begin');
    for (const owner of users) {
      const mine = agents.filter((agent) => agent.owner === owner);
      if (mine.length === 0) continue;
      const project = await client.query<{ id: number }>(
        `insert into project (stack_id, user_id, name, metadata) values (gen_random_uuid(), $1, 'load-agents', '{}') returning id`,
        [owner],
      );
      await client.query(
        `insert into deployment (project_id, metadata, status, deployment_hash, user_id)
         select $1, '{}', 'completed', hash, $2 from unnest($3::text[]) as hash`,
        [project.rows[0]!.id, owner, mine.map((agent) => agent.hash)],
      );
    }
    if (options.register) {
      // The agents register through the API when they start (registerThroughApi), as the real agent does.
      await client.query('commit');
      for (const agent of agents) agent.token = '';
      return agents;
    }
    const inserted = await client.query<{ id: string; deployment_hash: string }>(
      `insert into agents (deployment_hash, token_hash, version)
       select hash, token_hash, '0.2.1' from unnest($1::text[], $2::text[]) as t(hash, token_hash)
       returning id, deployment_hash`,
      [agents.map((agent) => agent.hash), agents.map((agent) => createHash('sha256').update(agent.token).digest('hex'))],
    );
    await client.query('commit');
    const ids = new Map(inserted.rows.map((row) => [row.deployment_hash, row.id]));
    for (const agent of agents) agent.id = ids.get(agent.hash)!;
    return agents;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}

/** What the real agent sends to register (anonymous POST /api/v1/agent/register, agent-protocol.md §2.1). */
export function registrationBody(deploymentHash: string): string {
  return JSON.stringify({ deployment_hash: deploymentHash, capabilities: ['docker', 'compose', 'logs'], agent_version: '0.2.1', system_info: { bench: true } });
}

/**
 * Registers an agent for each deployment through the API, `concurrency` at a time (the benchmarks'
 * set-up, not timed); any answer but 201 throws. The results are in the order of `hashes`.
 */
export async function registerEach(baseUrl: string, hashes: string[], concurrency: number): Promise<Array<{ hash: string; agentId: string; token: string }>> {
  const registration = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const registered: Array<{ hash: string; agentId: string; token: string }> = [];
  let next = 0;
  const worker = async () => {
    while (next < hashes.length) {
      const index = next++;
      const hash = hashes[index]!;
      const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body: registrationBody(hash), timeoutMs: 60_000 };
      const response = await timedRequest(registration, `${baseUrl}/api/v1/agent/register`, init);
      if (response.status !== 201) throw new Error(`registering the agent of ${hash} answered ${response.status}: ${response.body.slice(0, 200)}`);
      const { item } = JSON.parse(response.body) as { item: { agent_id: string; agent_token: string } };
      registered[index] = { hash, agentId: item.agent_id, token: item.agent_token };
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    registration.destroy();
  }
  return registered;
}

/**
 * Registers the agent as the real agent does on its first start (anonymous
 * `POST /api/v1/agent/register`, agent-protocol.md §2.1), retrying every 5 s until it gets a token.
 */
export async function registerThroughApi(baseUrl: string, agent: LoadAgent, recorder: Recorder, http: import('node:http').Agent, stopping: () => boolean): Promise<boolean> {
  const body = registrationBody(agent.hash);
  while (!stopping()) {
    const init = { method: 'POST', headers: { 'content-type': 'application/json' }, body, timeoutMs: 30_000 };
    const answer = await send(recorder, http, 'POST /api/v1/agent/register', `${baseUrl}/api/v1/agent/register`, init);
    if (answer?.status === 201) {
      const { item } = JSON.parse(answer.body) as { item: { agent_id: string; agent_token: string } };
      agent.id = item.agent_id;
      agent.token = item.agent_token;
      return true;
    }
    await sleep(POLLING_BACKOFF_MS);
  }
  return false;
}

/** The headers the real agent sends with every request: the signature is over the exact body. */
function signedHeaders(agent: LoadAgent, body: string): Record<string, string> {
  return {
    'x-agent-id': agent.id,
    'x-timestamp': String(Math.floor(Date.now() / 1000)),
    'x-request-id': crypto.randomUUID(),
    'x-agent-signature': createHmac('sha256', agent.token).update(body).digest('base64'),
    authorization: `Bearer ${agent.token}`,
    accept: '*/*',
    ...(body ? { 'content-type': 'application/json' } : {}),
  };
}

interface WaitItem {
  command_id: string;
  type: string;
  deployment_hash?: string;
  parameters: Record<string, unknown> | null;
}

export class AgentFleet {
  readonly ledger: AgentLedger = { deliveries: new Map(), reported: new Set(), reportFailures: new Map() };
  /** Deliveries of a command meant for another deployment. */
  misdelivered = 0;
  #stopping = false;
  readonly #loops: Array<Promise<void>> = [];
  readonly #http = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });

  readonly baseUrl: string;
  readonly recorder: Recorder;

  constructor(baseUrl: string, recorder: Recorder) {
    this.baseUrl = baseUrl;
    this.recorder = recorder;
  }

  /** Starts every agent's loop, `perSecond` agents a second (spread evenly). */
  start(agents: LoadAgent[], perSecond: number): void {
    for (const agent of agents) this.#loops.push(this.#run(agent, (agent.index * 1000) / perSecond));
  }

  /** No new polls; resolves when every agent's loop has ended (its open poll answered or timed out). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(this.#loops);
    this.#http.destroy();
  }

  async #run(agent: LoadAgent, delayMs: number): Promise<void> {
    await sleep(delayMs);
    if (!agent.token && !(await registerThroughApi(this.baseUrl, agent, this.recorder, this.#http, () => this.#stopping))) return;
    const url = `${this.baseUrl}/api/v1/agent/commands/wait/${agent.hash}?timeout=${POLLING_TIMEOUT_SECONDS}`;
    while (!this.#stopping) {
      agent.polling = true;
      const response = await send(this.recorder, this.#http, 'GET /api/v1/agent/commands/wait/{hash}', url, {
        headers: signedHeaders(agent, ''),
        timeoutMs: CLIENT_TIMEOUT_MS,
        // A long-poll's latency means different things with and without a command: two rows.
        routeOf: (answer) =>
          answer.status === 200 && answer.body.includes('"command_id"')
            ? 'GET /api/v1/agent/commands/wait/{hash} (command)'
            : 'GET /api/v1/agent/commands/wait/{hash} (none)',
      });
      agent.polling = false;
      if (!response || response.status !== 200) {
        await sleep(POLLING_BACKOFF_MS);
        continue;
      }
      const item = (JSON.parse(response.body) as { item?: WaitItem | null }).item;
      if (!item || !item.command_id) continue;
      const seen = this.ledger.deliveries.get(item.command_id) ?? [];
      seen.push({ agent, at: response.doneAt });
      this.ledger.deliveries.set(item.command_id, seen);
      if (item.deployment_hash !== agent.hash) this.misdelivered++;
      await this.#execute(agent, item);
    }
  }

  async #execute(agent: LoadAgent, item: WaitItem): Promise<void> {
    const type = item.type.trim().toLowerCase();
    const appCode = typeof item.parameters?.app_code === 'string' ? item.parameters.app_code : 'app';
    const report = JSON.stringify({
      command_id: item.command_id,
      completed_at: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      deployment_hash: agent.hash,
      error: null,
      result: { type, app_code: appCode, status: 'ok' },
      status: 'success',
    });
    for (let attempt = 0; ; attempt++) {
      const response = await send(this.recorder, this.#http, 'POST /api/v1/agent/commands/report', `${this.baseUrl}/api/v1/agent/commands/report`, {
        method: 'POST',
        headers: signedHeaders(agent, report),
        body: report,
        timeoutMs: 30_000,
      });
      if (response && response.status >= 200 && response.status < 300) {
        this.ledger.reported.add(item.command_id);
        break;
      }
      const retryable = !response || response.status >= 500;
      if (!retryable || attempt >= REPORT_RETRY_DELAYS_MS.length) {
        this.ledger.reportFailures.set(item.command_id, response ? `${response.status} ${response.body.slice(0, 160)}` : 'no answer');
        break;
      }
      await sleep(REPORT_RETRY_DELAYS_MS[attempt]!);
    }
    if (APP_STATUS_AFTER.has(type)) {
      const status = JSON.stringify({ deployment_hash: agent.hash, app_code: appCode, status: 'running', logs: [], timestamp: new Date().toISOString() });
      await send(this.recorder, this.#http, 'POST /api/v1/apps/status', `${this.baseUrl}/api/v1/apps/status`, {
        method: 'POST',
        headers: signedHeaders(agent, status),
        body: status,
        timeoutMs: 30_000,
      });
    }
  }

  /** Agents with a poll open now. */
  polling(agents: LoadAgent[]): number {
    return agents.filter((agent) => agent.polling).length;
  }
}
