// What the tests of dependency failures share: tests/integration/dependency-failures.test.ts and the
// sweeps that cut the database connection in the middle of a request
// (tests/integration/dependency-cuts*.test.ts). docs/failure-modes.md names them all.
import { env } from 'cloudflare:test';
import { sql } from 'drizzle-orm';
import { expect, inject } from 'vitest';
import { cachedEnforcer, invalidateRules } from '../../functions/services/access-control.ts';
import { createApp } from '../../functions/app.ts';
import { api, apiOf, jsonRequest } from './api.ts';
import { bearerFor, uniqueId } from './auth.ts';
import { withDatabase } from './db.ts';
import { deployBodies, projectForms } from './fixtures.ts';

export interface ErrorBody {
  message: string;
  errors?: Array<{ path: string; message: string }>;
}

const oneApp = createApp();

/**
 * apiWith on one app for all requests of these files: apiWith builds a new app for each request, and
 * a new app compiles its router on its first request (most of a short request's time). The app keeps
 * nothing between requests: the settings are read from each request's own bindings.
 */
export function apiWithOneApp(overrides: Record<string, unknown>, path: string, init?: RequestInit): Promise<Response> {
  return apiOf(oneApp, path, init, overrides);
}

/** Loads the casbin rules into this isolate's cache from the real database (a warm isolate). */
export async function warmRules(): Promise<void> {
  invalidateRules();
  await withDatabase((db) => cachedEnforcer(db));
}

// The database connection cut in the middle of a request (tests/stubs/pg-fault-proxy.ts)

export interface ProxyState {
  messages: number;
  cut: boolean;
  types: string;
}

export async function faultProxy(path: string, method = 'POST'): Promise<ProxyState> {
  const response = await fetch(`${inject('pgFaultProxy').controlUrl}${path}`, { method });
  return (await response.json()) as ProxyState;
}

/**
 * Settings that send a request's database traffic through the fault proxy, counted and cut in the
 * proxy's session `session`: the request's connections name it as their application_name.
 */
export function throughFaultProxy(session: string): Record<string, string> {
  const url = new URL(env.DATABASE_URL as string);
  url.searchParams.set('application_name', session);
  return { DATABASE_WS_PROXY: inject('pgFaultProxy').address, DATABASE_URL: url.toString() };
}

export type Rows = Record<string, number>;

export interface AtomicOperation<T> {
  prepare(): Promise<T>;
  /** The request under test: path and init, sent through the fault proxy. */
  request(context: T): Promise<[string, RequestInit]>;
  /** Counts of the rows that belong together; after any attempt they are all as in `complete`, or all 0. */
  rows(context: T): Promise<Rows>;
  complete: Rows;
  /** Checks after each attempt, given its status (e.g. a retry with the same Idempotency-Key). */
  afterwards?(context: T, status: number, body: string): Promise<void>;
}

export interface CutReport {
  /** Protocol messages the operation sends when nothing goes wrong, and their type letters. */
  messages: number;
  types: string;
  /** How the attempts ended: "cut 503 none", "lost answer 503 all" (committed, the caller told nothing)... */
  outcomes: Record<string, number>;
}

/**
 * Runs the operation once to count its protocol messages, then once for every message with the
 * database cut just before it, and once for every message that can commit with its answer lost;
 * checks every attempt: never a 500, a 503 naming the database or a success, the rows all there or none.
 */
/**
 * The sweeps cut at message N of an uncut run; with other test files loading the machine, a later
 * attempt's messages sometimes fall differently (a cache refreshed between attempts adds a query), so
 * one outcome can go unseen in a sweep. One more sweep, never a weaker check.
 */
export const CUT_SWEEP_RETRIES = 1;

/**
 * Attempts of a sweep sent at the same time. Each is cut in a proxy session of its own, so they do
 * not count each other's messages; they are prepared before and checked after, never while another
 * attempt's request is in flight, so the only requests going on beside an attempt are attempts.
 */
export const ATTEMPTS_AT_ONCE = 6;

export async function cutAtEveryMessage<T>(operation: AtomicOperation<T>): Promise<CutReport> {
  const none = Object.fromEntries(Object.keys(operation.complete).map((table) => [table, 0]));
  const problems: string[] = [];
  const outcomes: Record<string, number> = {};

  /** Sends the operation's request with the database cut as `arm` says, in a proxy session of its own. */
  async function send(context: T, arm: string): Promise<{ status: number; body: string; state: ProxyState }> {
    const session = `cut-${crypto.randomUUID()}`;
    await faultProxy(`/__arm${arm === '' ? '?' : `${arm}&`}session=${session}`);
    const response = await apiWithOneApp(throughFaultProxy(session), ...(await operation.request(context)));
    const body = await response.text();
    // The database is done with all the attempt sent (a COMMIT whose answer was lost may still be
    // running when the caller has its 503) before its rows are counted.
    const settled = await fetch(`${inject('pgFaultProxy').controlUrl}/__settled?session=${session}`);
    expect(settled.status, `${arm}: the database closes the attempt's connections`).toBe(200);
    const state = await faultProxy(`/__state?session=${session}`, 'GET');
    await faultProxy(`/__disarm?session=${session}`);
    return { status: response.status, body, state };
  }
  type Sent = { status: number; body: string; state: ProxyState };
  /** One attempt per arming, prepared before (`contexts`): all sent at once, the rules cached. */
  async function sendAll(arms: string[], contexts: T[]): Promise<Sent[]> {
    await warmRules();
    return Promise.all(arms.map((arm, index) => send(contexts[index]!, arm)));
  }
  /** The rows after each attempt, and its own checks. */
  function checkAll(sent: Sent[], contexts: T[]): Promise<Array<Sent & { rows: Rows }>> {
    return Promise.all(
      sent.map(async ({ status, body, state }, index) => {
        const rows = await operation.rows(contexts[index]!);
        await operation.afterwards?.(contexts[index]!, status, body);
        return { status, body, rows, state };
      }),
    );
  }
  const prepare = (count: number) => Promise.all(Array.from({ length: count }, () => operation.prepare()));
  const same = (a: Rows, b: Rows) => JSON.stringify(a) === JSON.stringify(b);

  const uncutContext = await prepare(1);
  const [uncut] = await checkAll(await sendAll([''], uncutContext), uncutContext);
  if (uncut!.status >= 300 || !same(uncut!.rows, operation.complete)) problems.push(`uncut: ${uncut!.status} ${uncut!.body} rows ${JSON.stringify(uncut!.rows)}`);
  const { messages, types } = uncut!.state;
  const faults = [
    ...Array.from({ length: messages }, (_, index) => ({ kind: 'cut', arm: `?cut_after=${index}` })),
    // A simple query (BEGIN, COMMIT) or a Sync (which commits a statement outside a transaction).
    ...[...types].flatMap((type, index) => (type === 'Q' || type === 'S' ? [{ kind: 'lost answer', arm: `?lose_answer=${index + 1}` }] : [])),
  ];
  const batches = Array.from({ length: Math.ceil(faults.length / ATTEMPTS_AT_ONCE) }, (_, index) => faults.slice(index * ATTEMPTS_AT_ONCE, (index + 1) * ATTEMPTS_AT_ONCE));
  let prepared = batches.length > 0 ? prepare(batches[0]!.length) : undefined;
  for (const [number, batch] of batches.entries()) {
    const contexts = await prepared!;
    const sent = await sendAll(batch.map((fault) => fault.arm), contexts);
    // The next batch is prepared while this one is checked: never while attempts are in flight.
    const next = batches[number + 1];
    prepared = next ? prepare(next.length) : undefined;
    prepared?.catch(() => undefined); // a failure is reported where it is awaited
    let results: Array<Sent & { rows: Rows }>;
    try {
      results = await checkAll(sent, contexts);
    } catch (error) {
      await prepared?.catch(() => undefined); // nothing of this sweep left running
      throw error;
    }
    batch.forEach((fault, index) => {
      const { status, body, rows, state } = results[index]!;
      const label = `${fault.arm} (${state.types})`;
      const succeeded = status >= 200 && status < 300;
      if (!succeeded && (status !== 503 || !/^Database is unavailable/.test((JSON.parse(body) as ErrorBody).message))) problems.push(`${label}: ${status} ${body}`);
      const all = same(rows, operation.complete);
      const nothing = same(rows, none);
      if (succeeded ? !all : !all && !nothing) problems.push(`${label}: ${status} left rows ${JSON.stringify(rows)}`);
      const outcome = `${fault.kind} ${status} ${all ? 'all' : nothing ? 'none' : 'some'}`;
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
    });
  }
  expect(problems).toEqual([]);
  expect(messages).toBeGreaterThan(0);
  return { messages, types, outcomes };
}

export async function count(query: ReturnType<typeof sql>): Promise<number> {
  return withDatabase(async (db) => Number((await db.execute<{ n: string }>(query)).rows[0]!.n));
}

/** Like `count` for each query (by name, in the order given), on one connection. */
export async function counts(queries: Record<string, ReturnType<typeof sql>>): Promise<Rows> {
  return withDatabase(async (db) => {
    const rows: Rows = {};
    for (const [name, query] of Object.entries(queries)) rows[name] = Number((await db.execute<{ n: string }>(query)).rows[0]!.n);
    return rows;
  });
}

export const asUser = (userId: string) => bearerFor('group_user', userId);

/**
 * After an attempt that sent an Idempotency-Key: the same request again answers what the attempt
 * created (200, the same `item`) when the attempt was told 201; otherwise (it was cut) it creates or
 * answers it; either way exactly one row is there in the end.
 */
export async function checkRetryWithSameKey(attempt: { status: number; body: string }, retry: () => Promise<Response>, rows: () => Promise<number>): Promise<void> {
  const answer = await retry();
  const retried = (await answer.json()) as { item: unknown };
  if (attempt.status === 201) {
    expect(answer.status).toBe(200);
    expect(retried.item).toEqual((JSON.parse(attempt.body) as { item: unknown }).item);
  } else {
    expect([200, 201]).toContain(answer.status);
  }
  expect(await rows()).toBe(1);
}
export const savedCloud = { provider: 'htz', cloud_token: 'hcloud-cut-test-token', save_token: true };

export async function createProject(userId: string): Promise<number> {
  const response = await api('/project', jsonRequest('POST', projectForms[2]!.body, asUser(userId)));
  expect(response.status).toBe(201);
  return ((await response.json()) as { item: { id: number } }).item.id;
}

/** A project with one deployment whose job has gone out to the install service. */
export async function deployedProject(): Promise<{ userId: string; projectId: number; deploymentId: number }> {
  const userId = uniqueId('cut');
  const projectId = await createProject(userId);
  const response = await apiWithOneApp({}, `/project/${projectId}/deploy`, jsonRequest('POST', { ...deployBodies.deploy2, cloud: { ...savedCloud, save_token: false } }, asUser(userId)));
  expect(response.status).toBe(202);
  return { userId, projectId, deploymentId: ((await response.json()) as { item: { deployment_id: number } }).item.deployment_id };
}
