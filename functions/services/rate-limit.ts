import type { RateDecision, RateLimiter } from '../durable/rate-limiter.ts';
import { describeError, log } from '../logger.ts';

export type { RateDecision };

export interface RateLimits {
  /** Counts one request of `key` against `limit` per minute. */
  consume(key: string, limit: number): Promise<RateDecision>;
}

const MINUTE_MS = 60_000;

/** Rate limits kept by one RateLimiter Durable Object per key. */
export function durableRateLimits(namespace: DurableObjectNamespace<RateLimiter>): RateLimits {
  return {
    async consume(key, limit) {
      try {
        return await namespace.get(namespace.idFromName(key)).consume(limit, MINUTE_MS);
      } catch (error) {
        // The limiter guards the service; it must not take it down. Fail open, loudly.
        log('warn', 'rate limiter unavailable', { key: key.split(':')[0], ...describeError(error) });
        return { allowed: true, remaining: limit, retryAfterSeconds: 0 };
      }
    },
  };
}
