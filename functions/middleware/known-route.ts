import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../http/env.ts';
import { notFound } from '../errors.ts';

export interface RouteSignature {
  method: string;
  /** OpenAPI style: /project/{id} */
  path: string;
}

function toMatcher(path: string): RegExp {
  const pattern = path
    .split('/')
    .map((segment) => (/^\{[^}]+\}$/.test(segment) ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${pattern}$`);
}

/**
 * Answers 404 before authentication for anything that is not a route, so unknown paths look the
 * same to every caller. The route list is read on first use, once every route is registered.
 */
export function knownRoutesOnly(listRoutes: () => RouteSignature[]) {
  let table: Array<{ method: string; matcher: RegExp }> | undefined;
  return createMiddleware<AppEnv>(async (c, next) => {
    table ??= listRoutes().map((route) => ({ method: route.method.toUpperCase(), matcher: toMatcher(route.path) }));
    const method = c.req.method;
    const path = c.req.path;
    if (!table.some((route) => route.method === method && route.matcher.test(path))) {
      throw notFound(`No route for ${method} ${path}`);
    }
    await next();
  });
}
