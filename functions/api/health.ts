import { createRoute } from '@hono/zod-openapi';
import { sql } from 'drizzle-orm';
import { ConfigError } from '../config.ts';
import { createRouter } from '../http/router.ts';
import { ErrorBodySchema, MessageSchema } from '../http/openapi.ts';
import { describeError, log } from '../logger.ts';

const healthCheck = createRoute({
  method: 'get',
  path: '/health_check',
  tags: ['health'],
  summary: 'Liveness and database reachability',
  responses: {
    200: { description: 'The service and its database answer', content: { 'application/json': { schema: MessageSchema } } },
    503: { description: 'The database does not answer', content: { 'application/json': { schema: ErrorBodySchema } } },
  },
});

export const healthRoutes = createRouter().openapi(healthCheck, async (c) => {
  try {
    await c.var.database.db.execute(sql`select 1`);
  } catch (error) {
    if (error instanceof ConfigError) throw error;
    log('warn', 'health check: database unreachable', { requestId: c.var.requestId, ...describeError(error) });
    return c.json({ message: 'Database is unavailable' }, 503);
  }
  // A local run (scripts/start.ts) names its Worker, so that its start knows whose answer this is.
  const instance = (c.env as { STACKER_INSTANCE_ID?: unknown } | undefined)?.STACKER_INSTANCE_ID;
  if (typeof instance === 'string') c.header('stacker-instance', instance);
  return c.json({ message: 'OK' }, 200);
});
