import { OpenAPIHono } from '@hono/zod-openapi';
import { createMiddleware } from 'hono/factory';
import type { AppEnv } from './env.ts';
import { badRequest } from '../errors.ts';
import { validationFailure } from './error-handler.ts';

/**
 * A body the route declares required but the request left out (no bytes, and no Content-Type or an
 * empty one) is a 400. zod-openapi would validate it as `{}`, which a schema of optional fields
 * accepts: PUT /server/{id} then cleared every field. Bytes without a Content-Type keep their 415.
 */
const requireDeclaredBody = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.req.header('content-type') && (await c.req.arrayBuffer()).byteLength === 0) {
    throw badRequest('Request body is required (Content-Type: application/json)', [{ path: 'body', message: 'Required' }]);
  }
  await next();
});

/** A sub-app for one resource; zod failures in its routes use the shared error envelope. */
export function createRouter() {
  const router = new OpenAPIHono<AppEnv>({ defaultHook: validationFailure });
  const register = router.openapi;
  router.openapi = ((route, handler, hook) => {
    if (!route.request?.body?.required) return register(route, handler, hook);
    const middleware = [requireDeclaredBody, ...[route.middleware ?? []].flat()];
    return register({ ...route, middleware }, handler, hook);
  }) as typeof router.openapi;
  return router;
}
