import { createRoute, z } from '@hono/zod-openapi';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, jsonContent } from '../http/openapi.ts';

const WhoAmI = z
  .object({
    kind: z.enum(['anonymous', 'user', 'client', 'agent']),
    subject: z.string().openapi({ description: 'The casbin subject the request was authorized as' }),
    user_id: z.string().optional(),
    client_id: z.number().int().optional(),
    agent_id: z.string().optional(),
    deployment_hash: z.string().optional(),
  })
  .openapi('WhoAmI');

const whoami = createRoute({
  method: 'get',
  path: '/whoami',
  tags: ['health'],
  summary: 'Who the credentials of this request belong to (checks credentials without side effects)',
  responses: {
    200: jsonContent(z.object({ message: z.string(), item: WhoAmI }), 'The caller'),
    401: authErrorResponses[401],
  },
});

export const whoamiRoutes = createRouter().openapi(whoami, (c) => {
  const principal = c.var.principal;
  const item: z.infer<typeof WhoAmI> = { kind: principal.kind, subject: principal.subject };
  if (principal.kind === 'user') item.user_id = principal.user.id;
  if (principal.kind === 'client') Object.assign(item, { client_id: principal.clientId, user_id: principal.userId });
  if (principal.kind === 'agent') Object.assign(item, { agent_id: principal.agentId, deployment_hash: principal.deploymentHash });
  return c.json({ message: 'OK', item }, 200);
});
