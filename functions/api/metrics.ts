import { createRoute, z } from '@hono/zod-openapi';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, jsonContent, userSecurity } from '../http/openapi.ts';
import { collectMetrics } from '../services/metrics.ts';

const counts = z.record(z.string(), z.number().int());
const Metrics = z
  .object({
    deployments: counts.openapi({ description: 'Deployments by status' }),
    commands: counts.openapi({ description: 'Commands by status (queued, sent, completed, failed, cancelled, expired)' }),
    outbox: z.object({ backlog: z.number().int(), oldest_age_seconds: z.number().int().nullable(), most_attempts: z.number().int() }),
    agents: z.object({ total: z.number().int(), online: z.number().int() }),
    generated_at: z.string(),
  })
  .openapi('Metrics');

const metrics = createRoute({
  method: 'get',
  path: '/admin/metrics',
  tags: ['operations'],
  summary: 'Admin: counters to watch (deployments and commands by status, outbox backlog, agents online)',
  security: userSecurity,
  responses: { 200: jsonContent(z.object({ message: z.string(), item: Metrics }), 'The counters'), ...authErrorResponses, ...errorResponses },
});

export const metricsRoutes = createRouter().openapi(metrics, async (c) => c.json({ message: 'OK', item: await collectMetrics(c.var.database.db) }, 200));
