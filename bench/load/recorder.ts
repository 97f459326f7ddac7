// Every request the load sends, by route: its status (or that it got no answer) and its latency, and
// one `send` that all parts of the load use, so nothing is counted twice or left out.
import type http from 'node:http';
import { performance } from 'node:perf_hooks';
import { percentile, timedRequest, type TimedResponse } from '../lib/measure.ts';

/** What a request without an answer is counted as, instead of a status. */
export const NO_ANSWER = 'no answer';

interface RouteRecord {
  latencies: number[];
  statuses: Map<number | typeof NO_ANSWER, number>;
  /** The first body seen of each status >= 400 (trimmed), to say what went wrong. */
  firstBodies: Map<number | typeof NO_ANSWER, string>;
}

export interface RouteSummary {
  route: string;
  requests: number;
  p50: number;
  p99: number;
  max: number;
  statuses: Array<[number | typeof NO_ANSWER, number]>;
  firstBodies: Array<[number | typeof NO_ANSWER, string]>;
}

export class Recorder {
  readonly #routes = new Map<string, RouteRecord>();
  /** Completed requests (answered or not) since the last `takeWindow`, for the progress line. */
  #window = 0;
  total = 0;
  serverErrors = 0;
  tooMany = 0;
  noAnswer = 0;

  record(route: string, outcome: number | typeof NO_ANSWER, latencyMs: number, body = ''): void {
    let entry = this.#routes.get(route);
    if (!entry) {
      entry = { latencies: [], statuses: new Map(), firstBodies: new Map() };
      this.#routes.set(route, entry);
    }
    entry.latencies.push(latencyMs);
    entry.statuses.set(outcome, (entry.statuses.get(outcome) ?? 0) + 1);
    if ((outcome === NO_ANSWER || outcome >= 400) && !entry.firstBodies.has(outcome)) entry.firstBodies.set(outcome, body.slice(0, 240));
    this.total++;
    this.#window++;
    if (outcome === NO_ANSWER) this.noAnswer++;
    else if (outcome >= 500) this.serverErrors++;
    else if (outcome === 429) this.tooMany++;
  }

  /** Requests completed since the previous call. */
  takeWindow(): number {
    const count = this.#window;
    this.#window = 0;
    return count;
  }

  summaries(): RouteSummary[] {
    return [...this.#routes]
      .map(([route, entry]) => ({
        route,
        requests: entry.latencies.length,
        p50: percentile(entry.latencies, 50),
        p99: percentile(entry.latencies, 99),
        max: entry.latencies.reduce((a, b) => Math.max(a, b), 0),
        statuses: [...entry.statuses].sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
        firstBodies: [...entry.firstBodies],
      }))
      .sort((a, b) => a.route.localeCompare(b.route));
  }

  /** Requests per status over every route (a request without an answer counts under NO_ANSWER). */
  byStatus(): Map<number | typeof NO_ANSWER, number> {
    const totals = new Map<number | typeof NO_ANSWER, number>();
    for (const entry of this.#routes.values()) {
      for (const [status, count] of entry.statuses) totals.set(status, (totals.get(status) ?? 0) + count);
    }
    return totals;
  }
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** The route as the report names it when the request's own URL would not do (e.g. a long-poll's outcome). */
  routeOf?: (response: TimedResponse) => string;
}

/**
 * One request, recorded under `route` (the method and path template, e.g. "POST /api/v1/commands").
 * Resolves with the response whatever its status; resolves undefined when no answer came (network
 * error, or no answer within the client's timeout), which is recorded too.
 */
export async function send(recorder: Recorder, agent: http.Agent, route: string, url: string, options: SendOptions): Promise<TimedResponse | undefined> {
  const sentAt = performance.now();
  try {
    const response = await timedRequest(agent, url, options);
    recorder.record(options.routeOf?.(response) ?? route, response.status, response.doneAt - response.sentAt, response.body);
    return response;
  } catch (error) {
    recorder.record(route, NO_ANSWER, performance.now() - sentAt, error instanceof Error ? error.message : String(error));
    return undefined;
  }
}
