// Rate limits per caller, after authentication: per user, per API client, per agent, and per IP for
// anonymous callers. A refused request is a 429 with Retry-After; limits come from configuration.
import { createMiddleware } from 'hono/factory';
import type { Config } from '../config.ts';
import { callerIp } from '../http/caller.ts';
import type { AppEnv } from '../http/env.ts';
import { ApiError } from '../errors.ts';
import type { Principal } from '../principal.ts';
import { durableRateLimits, type RateLimits } from '../services/rate-limit.ts';

/** Routes that authenticate their callers themselves, with a signature, and must not be throttled by IP. */
const SELF_AUTHENTICATED_PATHS = new Set(['/webhooks/install']);

export interface Bucket {
  key: string;
  limit: number;
  who: string;
}

export function bucketOf(principal: Principal, config: Config, ip: string | undefined): Bucket {
  switch (principal.kind) {
    case 'user':
      return { key: `user:${principal.user.id}`, limit: config.RATE_LIMIT_USER_PER_MINUTE, who: 'user' };
    case 'client':
      return { key: `client:${principal.clientId}`, limit: config.RATE_LIMIT_CLIENT_PER_MINUTE, who: 'API client' };
    case 'agent':
      return { key: `agent:${principal.agentId}`, limit: config.RATE_LIMIT_AGENT_PER_MINUTE, who: 'agent' };
    case 'anonymous':
      return { key: `ip:${ip ?? 'unknown'}`, limit: config.RATE_LIMIT_ANONYMOUS_PER_MINUTE, who: 'address' };
  }
}

export function rateLimit(limitsFor: (env: AppEnv['Bindings']) => RateLimits = (env) => durableRateLimits(env.RATE_LIMITER)) {
  return createMiddleware<AppEnv>(async (c, next) => {
    const principal = c.var.principal;
    if (principal.kind === 'anonymous' && SELF_AUTHENTICATED_PATHS.has(c.req.path)) return next();
    const bucket = bucketOf(principal, c.var.config, callerIp(c));
    if (bucket.limit === 0) return next();
    const decision = await limitsFor(c.env).consume(bucket.key, bucket.limit);
    if (!decision.allowed) {
      throw new ApiError(429, `Too many requests: this ${bucket.who} may send ${bucket.limit} per minute; retry in ${decision.retryAfterSeconds} s`, {
        headers: { 'Retry-After': String(decision.retryAfterSeconds) },
      });
    }
    await next();
  });
}
