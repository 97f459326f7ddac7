// Failed authentications, counted per IP address (RATE_LIMIT_AUTH_FAILURES_PER_MINUTE) in the same
// RateLimiter Durable Objects as the per-caller limits, under their own key. A failure past the limit
// is answered 429 with Retry-After; the isolate then remembers the address as held back until then,
// so its next attempts (with any credential) are refused before the credential is checked: no
// introspection call, no query. Another isolate learns it on the address's next failure there.
import { ApiError } from '../errors.ts';
import type { RateLimits } from './rate-limit.ts';

/** Addresses held back, per isolate, before the oldest are dropped. */
const MAX_HELD = 10_000;
const MINUTE_MS = 60_000;
const heldUntil = new Map<string, number>();

/** The key of an address (callers without a trusted address share one bucket, "unknown"). */
export const authFailureKey = (ip: string | undefined) => `authfail:${ip ?? 'unknown'}`;

function tooMany(retryAfterSeconds: number): ApiError {
  return new ApiError(429, `Too many failed authentications from this address: retry in ${retryAfterSeconds} s`, {
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

/** The 429 for an address this isolate holds back, or undefined. */
export function heldBack(ip: string | undefined, limit: number, now = Date.now()): ApiError | undefined {
  if (limit === 0) return undefined;
  const key = authFailureKey(ip);
  const until = heldUntil.get(key);
  if (until === undefined) return undefined;
  if (until <= now) {
    heldUntil.delete(key);
    return undefined;
  }
  return tooMany(Math.max(1, Math.ceil((until - now) / 1000)));
}

/**
 * Counts one failed authentication of the address. Returns the 429 to answer instead of the
 * failure's own error when the address is past its limit (and holds it back in this isolate).
 */
export async function countAuthFailure(limits: RateLimits, ip: string | undefined, limit: number, now = Date.now()): Promise<ApiError | undefined> {
  if (limit === 0) return undefined;
  const key = authFailureKey(ip);
  const decision = await limits.consume(key, limit);
  if (decision.allowed) {
    // That was the last one the bucket had: the next attempt waits for its refill (one per 60/limit s), unchecked.
    if (decision.remaining === 0) hold(key, now + Math.ceil(MINUTE_MS / limit));
    return undefined;
  }
  hold(key, now + decision.retryAfterSeconds * 1000);
  return tooMany(decision.retryAfterSeconds);
}

function hold(key: string, until: number): void {
  if (heldUntil.size >= MAX_HELD && !heldUntil.has(key)) heldUntil.delete(heldUntil.keys().next().value!);
  heldUntil.set(key, until);
}
