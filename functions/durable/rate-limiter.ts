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
 * `windowMs`, refilled continuously (GCRA: one number, the theoretical arrival time). The number is
 * kept in the object's storage so that an eviction does not hand a caller a fresh bucket.
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
    this.ctx.storage.kv.put('arrival', next);
    return { allowed: true, remaining: Math.floor((now - allowedFrom) / interval), retryAfterSeconds: 0 };
  }
}
