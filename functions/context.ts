import type { Context } from 'hono';
import type { AppEnv } from './env.ts';
import { forbidden } from './errors.ts';
import type { AuthenticatedUser, Principal } from './principal.ts';

/** The OAuth user behind the request; casbin lets only users reach the routes that call this. */
export function currentUser(c: Context<AppEnv>): AuthenticatedUser {
  const principal = c.var.principal;
  if (principal.kind !== 'user') throw forbidden('This route is for signed-in users');
  return principal.user;
}

export function currentClient(c: Context<AppEnv>): Extract<Principal, { kind: 'client' }> {
  const principal = c.var.principal;
  if (principal.kind !== 'client') throw forbidden('This route is for API clients');
  return principal;
}
