// API clients: /client (the owner), /admin/client (admins), and /test/deploy (the clients themselves).
import { createRoute, z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { currentClient, currentUser } from '../http/caller.ts';
import { apiClientDeps } from '../http/deps.ts';
import type { AppEnv } from '../http/env.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, ErrorBodySchema, idempotencyKeyHeader, idParam, jsonContent, userSecurity } from '../http/openapi.ts';
import {
  createApiClient,
  disableApiClient,
  enableApiClient,
  renewApiClientSecret,
} from '../services/api-clients.ts';
import type { Scope } from '../services/scope.ts';
import { itemEnvelope } from './responses.ts';

const ApiClient = z
  .object({
    id: z.number().int(),
    user_id: z.string(),
    enabled: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('ApiClient');

const ApiClientWithSecret = ApiClient.extend({
  secret: z.string().openapi({ description: 'Shown only in this response; sign requests with it.' }),
}).openapi('ApiClientWithSecret');

const responsesWithSecret = {
  200: jsonContent(itemEnvelope(ApiClientWithSecret), 'The client and its new secret'),
  409: jsonContent(ErrorBodySchema, 'The client is not in a state that allows this'),
  ...authErrorResponses,
  ...errorResponses,
};

const ownScope = (c: Context<AppEnv>): Scope => ({ ownerId: currentUser(c).id });
const adminScope = (): Scope => ({ admin: true });

const params = z.object({ id: idParam });

const create = createRoute({
  method: 'post',
  path: '/client',
  tags: ['api clients'],
  summary: 'Create an API client for the caller (its secret is shown once)',
  security: userSecurity,
  request: {
    headers: idempotencyKeyHeader(
      'The same key again (e.g. a retry after a lost answer) answers the client it created, with its current secret, 200, instead of creating another',
    ),
  },
  responses: {
    201: jsonContent(itemEnvelope(ApiClientWithSecret), 'Created'),
    200: jsonContent(itemEnvelope(ApiClientWithSecret), 'Already created with this Idempotency-Key'),
    409: jsonContent(ErrorBodySchema, 'The caller has MAX_CLIENTS_NUMBER clients already, or the client created with this Idempotency-Key is disabled'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

function secretRoute(method: 'put', path: string, summary: string) {
  return createRoute({ method, path, tags: ['api clients'], summary, security: userSecurity, request: { params }, responses: responsesWithSecret });
}

const renew = secretRoute('put', '/client/{id}', 'Give an own active client a new secret');
const enable = secretRoute('put', '/client/{id}/enable', 'Enable an own disabled client with a new secret');
const adminRenew = secretRoute('put', '/admin/client/{id}', 'Admin: give any active client a new secret');
const adminEnable = secretRoute('put', '/admin/client/{id}/enable', 'Admin: enable any client with a new secret');

function disableRoute(path: string, summary: string) {
  return createRoute({
    method: 'put',
    path,
    tags: ['api clients'],
    summary,
    security: userSecurity,
    request: { params },
    responses: {
      200: jsonContent(itemEnvelope(ApiClient), 'Disabled; its secret no longer authenticates'),
      409: jsonContent(ErrorBodySchema, 'The client is already disabled'),
      ...authErrorResponses,
      ...errorResponses,
    },
  });
}
const disable = disableRoute('/client/{id}/disable', 'Disable an own client');
const adminDisable = disableRoute('/admin/client/{id}/disable', 'Admin: disable any client');

const testDeploy = createRoute({
  method: 'post',
  path: '/test/deploy',
  tags: ['api clients'],
  summary: 'Check HMAC signing: answers with the calling client',
  security: [{ hmacClient: [], hmacSignature: [] }],
  responses: {
    200: jsonContent(itemEnvelope(z.object({ client_id: z.number().int(), user_id: z.string() })), 'Signed correctly'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

export const clientRoutes = createRouter()
  .openapi(create, async (c) => {
    const { client, created } = await createApiClient(apiClientDeps(c), currentUser(c).id, c.req.valid('header')['idempotency-key']);
    if (!created) return c.json({ message: 'API client already created with this Idempotency-Key', item: client }, 200);
    return c.json({ message: 'Created', item: client }, 201);
  })
  .openapi(renew, async (c) => c.json({ message: 'Secret renewed', item: await renewApiClientSecret(apiClientDeps(c), c.req.valid('param').id, ownScope(c)) }, 200))
  .openapi(enable, async (c) => c.json({ message: 'Enabled', item: await enableApiClient(apiClientDeps(c), c.req.valid('param').id, ownScope(c)) }, 200))
  .openapi(disable, async (c) => c.json({ message: 'Disabled', item: await disableApiClient(apiClientDeps(c), c.req.valid('param').id, ownScope(c)) }, 200))
  .openapi(adminRenew, async (c) => c.json({ message: 'Secret renewed', item: await renewApiClientSecret(apiClientDeps(c), c.req.valid('param').id, adminScope()) }, 200))
  .openapi(adminEnable, async (c) => c.json({ message: 'Enabled', item: await enableApiClient(apiClientDeps(c), c.req.valid('param').id, adminScope()) }, 200))
  .openapi(adminDisable, async (c) => c.json({ message: 'Disabled', item: await disableApiClient(apiClientDeps(c), c.req.valid('param').id, adminScope()) }, 200))
  .openapi(testDeploy, (c) => {
    const caller = currentClient(c);
    return c.json({ message: 'success', item: { client_id: caller.clientId, user_id: caller.userId } }, 200);
  });
