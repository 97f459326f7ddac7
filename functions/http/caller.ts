import type { Context } from 'hono';
import { z } from 'zod';
import type { AppEnv } from './env.ts';
import { forbidden } from '../errors.ts';
import type { AuthenticatedUser, Principal } from '../principal.ts';
import { durableDoorbell, type DoorbellTopic } from '../services/doorbell.ts';
import { scopeOfUser, type Scope } from '../services/scope.ts';

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

/** Whose rows the caller may reach by id: admins anyone's, users and API clients their own (the owner's). */
export function callerScope(c: Context<AppEnv>): Scope {
  const principal = c.var.principal;
  if (principal.kind === 'user') return scopeOfUser(principal.user);
  if (principal.kind === 'client') return { ownerId: principal.userId };
  throw forbidden('This route is for users and API clients');
}

/** The user whose rows a list shows: the caller, or the owner of the calling API client. */
export function callerOwnerId(c: Context<AppEnv>): string {
  const principal = c.var.principal;
  if (principal.kind === 'user') return principal.user.id;
  if (principal.kind === 'client') return principal.userId;
  throw forbidden('This route is for users and API clients');
}

const ipAddress = z.union([z.ipv4(), z.ipv6()]);

/**
 * The caller's IP address as Cloudflare gives it (CF-Connecting-IP), if it is one and the settings say
 * the service runs behind Cloudflare (TRUST_CF_CONNECTING_IP=on). Elsewhere the header is the client's
 * own claim, and nothing else in the request names the address either: undefined.
 */
export function callerIp(c: Context<AppEnv>): string | undefined {
  if (c.var.config.TRUST_CF_CONNECTING_IP !== 'on') return undefined;
  return ipAddress.safeParse(c.req.header('cf-connecting-ip')).data;
}

/**
 * Wakes the deployment's waiters once the response is sent: 'status' after any new event of the
 * deployment (its pages and event readers), 'commands' after work for its agent.
 */
export function ringDoorbell(c: Context<AppEnv>, deploymentHash: string, ...topics: DoorbellTopic[]): void {
  const doorbell = durableDoorbell(c.env.DEPLOYMENT_DOORBELL);
  c.executionCtx.waitUntil(Promise.all(topics.map((topic) => doorbell.ring(deploymentHash, topic))));
}
