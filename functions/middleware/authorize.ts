import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../http/env.ts';
import { forbidden, unauthorized } from '../errors.ts';
import { cachedEnforcer, decideCached } from '../services/access-control.ts';

/** Casbin on (subject, path, method), its answers remembered for the rules' life; anonymous callers who are refused are told to authenticate. */
export const authorize = createMiddleware<AppEnv>(async (c, next) => {
  const principal = c.var.principal;
  const enforcer = await cachedEnforcer(() => c.var.database.db);
  const decision = await decideCached(enforcer, principal.subject, c.req.path, c.req.method);
  if (!decision.allowed) {
    if (principal.kind === 'anonymous') throw unauthorized('Authentication required');
    throw forbidden(`Not allowed: ${c.req.method} ${c.req.path}`);
  }
  await next();
});
