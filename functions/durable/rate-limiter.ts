import { DurableObject } from 'cloudflare:workers';

export interface RateDecision {
  allowed: boolean;
  /** Requests still allowed right now. */
  remaining: number;
  /** When refused: whole seconds until one more request is allowed. */
  retryAfterSeconds: number;
}

/**
 * One per caller (user, API client, agent, or anonymous IP): a token bucket of `limit` requests per
 * `windowMs`, refilled continuously (GCRA: one number, the theoretical arrival time).
 *
 * The number lives in memory and is written to storage only while the bucket is less than half full,
 * so that hibernation (after 10 s idle) does not hand a draining caller a fresh bucket. A caller well
 * within its limit (every agent, nearly every user) costs no storage write: that write, a disk commit
 * per request, was what a local Worker spent most on at 1,000 agents (BENCHMARKS.md, load).
 */
export class RateLimiter extends DurableObject {
  private arrival: number | undefined;

  consume(limit: number, windowMs: number): RateDecision {
    const now = Date.now();
    const interval = windowMs / limit;
    this.arrival ??= this.ctx.storage.kv.get<number>('arrival') ?? 0;
    const next = Math.max(this.arrival, now) + interval;
    const allowedFrom = next - windowMs;
    if (now < allowedFrom) {
      return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil((allowedFrom - now) / 1000)) };
    }
    this.arrival = next;
    const remaining = Math.floor((now - allowedFrom) / interval);
    if (remaining < limit / 2) this.ctx.storage.kv.put('arrival', next);
    return { allowed: true, remaining, retryAfterSeconds: 0 };
  }
}
