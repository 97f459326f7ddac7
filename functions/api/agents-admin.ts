// Admins' agent operations: rotating an agent's token (casbin: group_admin only).
import { createRoute, z } from '@hono/zod-openapi';
import { rotateAgentTokenOrUnavailable } from '../http/agent-tokens.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, jsonContent, userSecurity } from '../http/openapi.ts';
import { agentTokenSchema, DEFAULT_GRACE_SECONDS, deploymentHashSchema, graceSecondsSchema } from '../services/agent-tokens.ts';

const params = z.object({
  deployment_hash: deploymentHashSchema.openapi({ param: { name: 'deployment_hash', in: 'path' }, example: 'deployment_0b5e3c9a-7d1f-4c2e-9a8b-3f6d2e1c4b5a' }),
});

const RotateTokenRequest = z
  .object({
    new_token: agentTokenSchema.optional().openapi({ description: 'The token to set; a random one is issued when absent' }),
    grace_seconds: graceSecondsSchema.optional().openapi({
      description: `How long the previous token keeps working, 0 to 3600 s (default ${DEFAULT_GRACE_SECONDS}); 0 refuses it from the next request on`,
      example: 0,
    }),
  })
  .openapi('AgentTokenRotation');

const RotatedToken = z
  .object({
    deployment_hash: z.string(),
    agent_token: z.string().openapi({ description: 'The new token: shown only in this response, and stored in Vault' }),
    previous_token_valid_until: z.string().openapi({ description: 'The previous token is accepted until then (ISO 8601)' }),
  })
  .openapi('RotatedAgentToken');

const rotate = createRoute({
  method: 'post',
  path: '/admin/agent/{deployment_hash}/rotate-token',
  tags: ['agent'],
  summary: `Admin: give a deployment's agent a new token (Vault, then the database; the old one stays valid grace_seconds, default ${DEFAULT_GRACE_SECONDS})`,
  security: userSecurity,
  request: { params, body: { required: false, content: { 'application/json': { schema: RotateTokenRequest } } } },
  responses: {
    200: jsonContent(z.object({ message: z.string(), item: RotatedToken }), 'Rotated'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

export const agentAdminRoutes = createRouter().openapi(rotate, async (c) => {
  const { deployment_hash } = c.req.valid('param');
  const { new_token, grace_seconds } = c.req.valid('json');
  const { agent_notified, ...item } = await rotateAgentTokenOrUnavailable(c, deployment_hash, new_token, grace_seconds);
  const parts = ['Agent token rotated', ...(grace_seconds === 0 ? ['the previous token is refused from now on'] : []), ...(agent_notified ? ['the agent was told its new token'] : [])];
  return c.json({ message: parts.join('; '), item }, 200);
});
