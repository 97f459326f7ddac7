import { DurableObject } from 'cloudflare:workers';

export interface RateDecision {
  allowed: boolean;
  /** Requests still allowed right now. */
  remaining: number;
  /** When refused: whole seconds until one more request is allowed. */
  retryAfterSeconds: number;
}

/** Entries kept in memory before full buckets (nothing to remember) are swept out. */
const MAX_REMEMBERED = 10_000;

/**
 * The buckets of one shard of callers (users, API clients, agents, anonymous IPs; the shard is a
 * hash of the caller's key): for each, a token bucket of `limit` requests per `windowMs`, refilled
 * continuously (GCRA: one number per caller, the theoretical arrival time).
 *
 * Sharding keeps each object busy and in memory: one object per caller would be instantiated, its
 * storage opened, on nearly every request of a slow caller such as an agent (one poll every 25 s,
 * hibernation after 10 s idle). A bucket is written to storage only while it is less than half full,
 * so that an eviction does not hand a draining caller a fresh bucket; a caller well within its limit
 * costs no write (BENCHMARKS.md, load).
 */
export class RateLimiter extends DurableObject {
  private readonly arrivals = new Map<string, number>();

  consume(key: string, limit: number, windowMs: number): RateDecision {
    const now = Date.now();
    const interval = windowMs / limit;
    const arrival = this.arrivals.get(key) ?? this.ctx.storage.kv.get<number>(key) ?? 0;
    const next = Math.max(arrival, now) + interval;
    const allowedFrom = next - windowMs;
    if (now < allowedFrom) {
      return { allowed: false, remaining: 0, retryAfterSeconds: Math.max(1, Math.ceil((allowedFrom - now) / 1000)) };
    }
    this.remember(key, next, now);
    const remaining = Math.floor((now - allowedFrom) / interval);
    if (remaining < limit / 2) this.ctx.storage.kv.put(key, next);
    return { allowed: true, remaining, retryAfterSeconds: 0 };
  }

  private remember(key: string, arrival: number, now: number): void {
    this.arrivals.set(key, arrival);
    if (this.arrivals.size <= MAX_REMEMBERED) return;
    // An arrival time in the past is a full bucket: the same as not remembering it.
    for (const [known, at] of this.arrivals) if (at <= now) this.arrivals.delete(known);
  }
}
