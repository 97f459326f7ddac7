import type { RateDecision, RateLimiter } from '../durable/rate-limiter.ts';
import { describeError, log } from '../logger.ts';

export type { RateDecision };

export interface RateLimits {
  /** Counts one request of `key` against `limit` per minute. */
  consume(key: string, limit: number): Promise<RateDecision>;
}

const MINUTE_MS = 60_000;
/** RateLimiter objects the callers are spread over; each serves every caller of its shard. */
export const RATE_LIMITER_SHARDS = 64;

/** FNV-1a: a stable, even spread of keys over the shards. */
export function shardOf(key: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return (hash >>> 0) % RATE_LIMITER_SHARDS;
}

/** Rate limits kept by RateLimiter Durable Objects, one per shard of callers. */
export function durableRateLimits(namespace: DurableObjectNamespace<RateLimiter>): RateLimits {
  return {
    async consume(key, limit) {
      try {
        return await namespace.get(namespace.idFromName(`shard-${shardOf(key)}`)).consume(key, limit, MINUTE_MS);
      } catch (error) {
        // The limiter guards the service; it must not take it down. Fail open, loudly.
        log('warn', 'rate limiter unavailable', { key: key.split(':')[0], ...describeError(error) });
        return { allowed: true, remaining: limit, retryAfterSeconds: 0 };
      }
    },
  };
}
