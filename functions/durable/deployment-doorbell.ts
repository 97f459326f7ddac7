import { DurableObject } from 'cloudflare:workers';
import { constantTimeEqual } from '../services/crypto.ts';
import { describeError, log } from '../logger.ts';
import type { EngineStepTaken } from '../services/doorbell.ts';
import { runEngineStep } from './engine-runner.ts';
import { HEARTBEAT_FLUSH_MS, type CachedAgent, type GateAnswer, type GateRequest, type HeartbeatClaim } from './agent-gate-types.ts';

interface WaiterAttachment {
  /** When the waiting request arrived (ms): the newest request of a waiter wins. */
  arrival: number;
}

/** Replay protection keeps a signed wait's request id this long past max(arrival, X-Timestamp). */
export const REQUEST_ID_KEEP_MS = 10 * 60_000;

/** A step that failed (database down) is tried again this soon by the alarm. */
const ENGINE_RETRY_MS = 2_000;

/**
 * One per deployment_hash: wakes whoever waits for news of that deployment (an agent waiting for a
 * command, a dashboard waiting for a status change). Postgres holds the facts; this object holds
 * the waiting sockets, accepted with the hibernation API so that idle waiters cost nothing.
 *
 * A waiter that names itself (`waiter=<agent id>`) holds one wait at a time: a wait that arrived
 * later ends the earlier ones ("superseded"), and one that arrived earlier than a held wait is
 * refused with 409. An agent that lost its connection and polls again so never piles up waits.
 * The wait route's wait also carries the agent's token (`x-gate-*` headers): the object opens it only
 * for a token it vouches for (`agentGate`), and otherwise answers the gate's refusal (200, JSON) with
 * nothing opened and no wait ended, so an agent's first call to its object is also its authentication.
 * A vouched wait that the route then refuses (rate limit, a bad query) is closed again, having ended
 * the agent's older wait as any newer wait of that agent would.
 *
 * The agent's hot path (DESIGN "Agent long-poll"): in its SQLite storage, which outlives hibernation,
 * the object also keeps
 * - the agent's token hashes as Postgres last said (`agentGate` vouches for a matching token;
 *   anything else is a miss and goes to Postgres). Every change made through the Worker (register,
 *   rotation) calls `forgetAgents` before answering; the heartbeat flush re-reads the row at least
 *   every HEARTBEAT_FLUSH_MS, which bounds a change made behind the Worker's back (SQL, the CLI);
 * - the signed wait requests' ids (replay protection, REQUEST_ID_KEEP_MS);
 * - a claim version: every 'commands' ring increments `version`; a claim that found nothing claimable
 *   (nothing queued, nothing leased that may be offered again) sets `cleared` to the version read
 *   before it. A wait claims from Postgres only while version > cleared. A fresh object (no storage)
 *   starts with version 1, cleared 0: it does not know, so the first wait claims.
 */
export class DeploymentDoorbell extends DurableObject {
  private readonly sql: SqlStorage;
  private version: number;
  private cleared: number;
  private epoch: number;
  private prunedAt = 0;
  private engineRun: Promise<void> = Promise.resolve();
  /** The `agent` table's entries read or written by this instance; every write goes through storeAgent. */
  private readonly agents = new Map<string, CachedAgent>();

  constructor(ctx: DurableObjectState, env: unknown) {
    super(ctx, env as never);
    this.sql = ctx.storage.sql;
    this.sql.exec(`create table if not exists meta (key text primary key, value integer not null)`);
    this.sql.exec(`create table if not exists agent (agent_id text primary key, entry text not null)`);
    this.sql.exec(`create table if not exists request_id (agent_id text not null, request_id text not null, keep_until integer not null, primary key (agent_id, request_id))`);
    const meta = new Map(this.sql.exec<{ key: string; value: number }>(`select key, value from meta`).toArray().map((row) => [row.key, row.value]));
    this.version = meta.get('version') ?? 1;
    this.cleared = meta.get('cleared') ?? 0;
    this.epoch = meta.get('epoch') ?? 0;
  }

  private setMeta(key: 'version' | 'cleared' | 'epoch' | 'engine', value: number): void {
    this.sql.exec(`insert into meta (key, value) values (?, ?) on conflict (key) do update set value = excluded.value`, key, value);
  }

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const topic = url.searchParams.get('topic') ?? '';
    if (!/^[a-z]{1,32}$/.test(topic)) return new Response('bad topic', { status: 400 });

    if (url.pathname === '/wait') {
      if (request.headers.get('upgrade') !== 'websocket') return new Response('expected a websocket', { status: 426 });
      const tags = [topic];
      const waiter = url.searchParams.get('waiter');
      const arrival = Number(url.searchParams.get('arrival') ?? Date.now());
      const headers: Record<string, string> = {};
      if (waiter !== null) {
        if (!/^[\w-]{1,64}$/.test(waiter) || !Number.isFinite(arrival)) return new Response('bad waiter', { status: 400 });
        const tokenHash = request.headers.get('x-gate-token-hash');
        if (tokenHash !== null) {
          const requestId = request.headers.get('x-gate-request-id') ?? undefined;
          const keepUntil = Number(request.headers.get('x-gate-request-keep-until') ?? Number.NaN);
          const answer = this.agentGate({ agentId: waiter, tokenHash, requestId, requestIdKeepUntil: Number.isFinite(keepUntil) ? keepUntil : undefined });
          if (answer.kind !== 'ok') return Response.json(answer);
          headers['x-gate-answer'] = JSON.stringify(answer);
        }
        const tag = `waiter:${waiter}`;
        const held = this.ctx.getWebSockets(tag);
        if (held.some((socket) => this.arrivalOf(socket) > arrival)) return new Response('superseded', { status: 409, headers });
        for (const socket of held) {
          if (this.arrivalOf(socket) < arrival) this.send(socket, 'superseded');
        }
        tags.push(tag);
      }
      const { 0: client, 1: server } = new WebSocketPair();
      this.ctx.acceptWebSocket(server, tags);
      server.serializeAttachment({ arrival } satisfies WaiterAttachment);
      // Read after the socket is accepted: a ring from now on reaches it, one before is in `version`.
      headers['x-claim-version'] = String(this.version);
      headers['x-claim-cleared'] = String(this.cleared);
      return new Response(null, { status: 101, webSocket: client, headers });
    }
    if (url.pathname === '/ring' && request.method === 'POST') {
      return Response.json({ woken: this.ring(topic) });
    }
    return new Response('not found', { status: 404 });
  }

  private ring(topic: string): number {
    if (topic === 'commands') this.setMeta('version', ++this.version);
    let woken = 0;
    for (const socket of this.ctx.getWebSockets(topic)) {
      if (this.send(socket, 'ring')) woken++;
    }
    return woken;
  }

  /**
   * Something happened to the deployment's built-in engine run (it started, its agent enrolled or
   * reported, a user acted): advance it now. The object owns the run from here: an alarm set first
   * retries a step that failed, and each step leaves the alarm at the time it wants to look again.
   */
  async runEngine(deploymentId: number): Promise<void> {
    this.sql.exec(`insert into meta (key, value) values ('engine', ?) on conflict (key) do update set value = excluded.value`, deploymentId);
    await this.ctx.storage.setAlarm(Date.now() + ENGINE_RETRY_MS);
    await this.advanceEngine(deploymentId);
  }

  /**
   * A step was taken outside this object (an agent's report takes the step it causes on the report's
   * own connection): ring who waits, and keep an alarm no later than the step asks (an earlier one
   * only runs a step that finds nothing to do).
   */
  async engineStepped(deploymentId: number, step: EngineStepTaken): Promise<void> {
    this.setMeta('engine', deploymentId);
    if (step.queuedCommands) this.ring('commands');
    if (step.wroteEvents) this.ring('status');
    if (step.wakeAt === null) return;
    const at = Math.max(step.wakeAt, Date.now() + 10);
    const current = await this.ctx.storage.getAlarm();
    if (current === null || at < current) await this.ctx.storage.setAlarm(at);
  }

  override async alarm(): Promise<void> {
    const row = this.sql.exec<{ value: number }>(`select value from meta where key = 'engine'`).toArray()[0];
    if (row) await this.advanceEngine(row.value, true);
  }

  /** One step at a time in this object (Postgres' row lock orders it with the cron's). */
  private advanceEngine(deploymentId: number, fromAlarm = false): Promise<void> {
    const run = this.engineRun.then(async () => {
      try {
        const result = await runEngineStep(this.env as object, deploymentId);
        if (result.queuedCommands) this.ring('commands');
        if (result.wroteEvents) this.ring('status');
        if (result.wakeAt) await this.ctx.storage.setAlarm(Math.max(result.wakeAt.getTime(), Date.now() + 10));
        else await this.ctx.storage.deleteAlarm();
      } catch (error) {
        log('error', 'deploy engine step failed; retried by the alarm', { deploymentId, ...describeError(error) });
        if (fromAlarm) throw error; // the runtime retries a failed alarm with backoff
      }
    });
    this.engineRun = run.catch(() => undefined);
    return run;
  }

  /**
   * The wait route's authentication: vouch for a token the cache knows, or say miss. When the
   * heartbeat is due or the credentials are old, the write (which re-reads them) is handed to this
   * request: the entry is marked as of now, so the agent's next polls do not write too (HeartbeatClaim).
   */
  agentGate(request: GateRequest): GateAnswer {
    const now = Date.now();
    const cached = this.agentEntry(request.agentId);
    if (!cached || !this.vouches(cached, request.tokenHash, now)) return { kind: 'miss', epoch: this.epoch };
    if (!this.remember(request, now)) return { kind: 'replay' };
    const heartbeatAt = cached.heartbeatAt ?? cached.checkedAt;
    const heartbeatDue = now - heartbeatAt >= HEARTBEAT_FLUSH_MS;
    const credentialsFresh = now - cached.checkedAt < HEARTBEAT_FLUSH_MS;
    if (!heartbeatDue && credentialsFresh) return { kind: 'ok', heartbeatDue, credentialsFresh, epoch: this.epoch };
    const { tokenHash, previousTokenHash, previousTokenExpiresAt } = cached;
    const claim: HeartbeatClaim = { markedAt: now, heartbeatAt, checkedAt: cached.checkedAt, credentials: { tokenHash, previousTokenHash, previousTokenExpiresAt } };
    this.storeAgent({ ...cached, heartbeatAt: now, checkedAt: now });
    return { kind: 'ok', heartbeatDue, credentialsFresh, epoch: this.epoch, claim };
  }

  /** The heartbeat handed out with `claim` was not written: the agent's next poll writes it. */
  heartbeatNotWritten(agentId: string, claim: Pick<HeartbeatClaim, 'markedAt' | 'heartbeatAt' | 'checkedAt'>): void {
    const cached = this.agentEntry(agentId);
    if (cached?.heartbeatAt === claim.markedAt) this.storeAgent({ ...cached, heartbeatAt: claim.heartbeatAt, checkedAt: claim.checkedAt });
  }

  /**
   * Stores what Postgres said about the agent (read after `epoch` was handed out; refused if a
   * change came since) and records the request id. False: a replay.
   */
  agentPrime(entry: CachedAgent, epoch: number, request?: Pick<GateRequest, 'agentId' | 'requestId' | 'requestIdKeepUntil'>): { replay: boolean } {
    if (request && !this.remember(request, Date.now())) return { replay: true };
    if (epoch === this.epoch) this.storeAgent(entry);
    return { replay: false };
  }

  /** The agent's credentials changed (or it is gone): forget them, and refuse stores read before now. */
  forgetAgents(): void {
    this.setMeta('epoch', ++this.epoch);
    this.sql.exec(`delete from agent`);
    this.agents.clear();
  }

  /**
   * The Worker has just changed the agent's credentials in Postgres (registration, rotation) and
   * says what they are now: forget what was cached, refuse stores read before now, and keep this
   * entry, so the agent's next poll is a hit. Answers the claim version, for `claimedNothing`.
   */
  agentCredentialsSet(entry: CachedAgent): { version: number } {
    this.forgetAgents();
    this.storeAgent(entry);
    return { version: this.version };
  }

  /** A claim that started at `version` found nothing claimable. */
  claimedNothing(version: number): void {
    if (version > this.cleared && version <= this.version) {
      this.cleared = version;
      this.setMeta('cleared', version);
    }
  }

  /** For tests: what the object holds. */
  inspect(): { version: number; cleared: number; epoch: number; agents: number; requestIds: number } {
    const agents = this.sql.exec<{ n: number }>(`select count(*) as n from agent`).one().n;
    const requestIds = this.sql.exec<{ n: number }>(`select count(*) as n from request_id`).one().n;
    return { version: this.version, cleared: this.cleared, epoch: this.epoch, agents, requestIds };
  }

  /** For tests: how many signed waits' request ids starting with `prefix` the object remembers. */
  countRequestIds(prefix: string): number {
    return this.sql.exec<{ n: number }>(`select count(*) as n from request_id where substr(request_id, 1, ?) = ?`, prefix.length, prefix).one().n;
  }

  /** For tests: as if the object were new (its storage lost). */
  reset(): void {
    this.sql.exec(`delete from meta`);
    this.sql.exec(`delete from agent`);
    this.sql.exec(`delete from request_id`);
    this.agents.clear();
    this.version = 1;
    this.cleared = 0;
    this.epoch = 0;
  }

  /** The agent's entry: from memory, or from storage once per instance (after a restart or hibernation). */
  private agentEntry(agentId: string): CachedAgent | undefined {
    const known = this.agents.get(agentId);
    if (known) return known;
    const row = this.sql.exec<{ entry: string }>(`select entry from agent where agent_id = ?`, agentId).toArray()[0];
    if (!row) return undefined;
    const entry = JSON.parse(row.entry) as CachedAgent;
    this.agents.set(agentId, entry);
    return entry;
  }

  private storeAgent(entry: CachedAgent): void {
    this.sql.exec(`insert into agent (agent_id, entry) values (?, ?) on conflict (agent_id) do update set entry = excluded.entry`, entry.agentId, JSON.stringify(entry));
    this.agents.set(entry.agentId, entry);
  }

  private vouches(cached: CachedAgent, tokenHash: string, now: number): boolean {
    // Both compared, constant time, so timing does not say which one matched.
    const current = constantTimeEqual(tokenHash, cached.tokenHash);
    const previous =
      cached.previousTokenHash !== null &&
      cached.previousTokenExpiresAt !== null &&
      cached.previousTokenExpiresAt > now &&
      constantTimeEqual(tokenHash, cached.previousTokenHash);
    return current || previous;
  }

  private remember(request: Pick<GateRequest, 'agentId' | 'requestId' | 'requestIdKeepUntil'>, now: number): boolean {
    if (request.requestId === undefined) return true;
    if (now - this.prunedAt > 60_000) {
      this.sql.exec(`delete from request_id where keep_until < ?`, now);
      this.prunedAt = now;
    }
    const keepUntil = Math.max(now, request.requestIdKeepUntil ?? now) + REQUEST_ID_KEEP_MS;
    const cursor = this.sql.exec(`insert into request_id (agent_id, request_id, keep_until) values (?, ?, ?) on conflict do nothing`, request.agentId, request.requestId, keepUntil);
    return cursor.rowsWritten > 0;
  }

  private arrivalOf(socket: WebSocket): number {
    return (socket.deserializeAttachment() as WaiterAttachment | null)?.arrival ?? 0;
  }

  private send(socket: WebSocket, message: 'ring' | 'superseded'): boolean {
    try {
      socket.send(message);
      return true;
    } catch {
      return false; // already closing
    }
  }

  override async webSocketMessage(): Promise<void> {
    // Waiters only listen.
  }

  override async webSocketClose(socket: WebSocket, code: number): Promise<void> {
    try {
      socket.close(code === 1005 ? 1000 : code, 'bye');
    } catch {
      // already closed
    }
  }
}
