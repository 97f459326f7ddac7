// Cloud provider credentials of the caller: /cloud and /cloud/{id}; what a saved key can create: /cloud/{id}/offers.
import { createRoute, z } from '@hono/zod-openapi';
import { callerOwnerId, callerScope, currentUser } from '../http/caller.ts';
import { cloudDeps } from '../http/deps.ts';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, idParam, jsonContent, userSecurity } from '../http/openapi.ts';
import { cloudOffers } from '../services/cloud-offers.ts';
import { createCloud, deleteCloud, getCloud, listClouds, updateCloud } from '../services/clouds.ts';
import { CloudForm } from '../services/inputs/clouds.ts';

const Cloud = z
  .object({
    id: z.number().int(),
    user_id: z.string(),
    provider: z.string(),
    cloud_token: z.string().nullable().openapi({ description: 'Masked, e.g. "hcl_****"' }),
    cloud_key: z.string().nullable(),
    cloud_secret: z.string().nullable(),
    save_token: z.boolean(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi('Cloud');

const item = z.object({ message: z.string(), item: Cloud });

const Offers = z
  .object({
    provider: z.string(),
    label: z.string(),
    types: z.array(
      z.object({
        name: z.string(),
        description: z.string(),
        cores: z.number(),
        memoryGb: z.number(),
        diskGb: z.number(),
        architecture: z.enum(['x86', 'arm']).nullable(),
        currency: z.string(),
        prices: z.array(z.object({ location: z.string(), monthly: z.number(), hourly: z.number() })).openapi({ description: 'Per location where the type can be created now; without VAT' }),
      }),
    ),
    locations: z.array(z.object({ name: z.string(), description: z.string(), country: z.string().nullable(), city: z.string().nullable() })),
    images: z.array(z.object({ name: z.string(), description: z.string(), distribution: z.string(), architecture: z.enum(['x86', 'arm']).nullable() })),
    fetched_at: z.string(),
  })
  .openapi('CloudOffers');
const params = z.object({ id: idParam });
const body = { required: true, content: { 'application/json': { schema: CloudForm } } } as const;
const responses = { ...authErrorResponses, ...errorResponses };

const list = createRoute({
  method: 'get', path: '/cloud', tags: ['clouds'], summary: 'The caller’s clouds (credentials masked)', security: userSecurity,
  responses: { 200: jsonContent(z.object({ message: z.string(), list: z.array(Cloud) }), 'Clouds'), ...responses },
});
const create = createRoute({
  method: 'post', path: '/cloud', tags: ['clouds'], summary: 'Save cloud credentials (encrypted at rest)', security: userSecurity,
  request: { body }, responses: { 201: jsonContent(item, 'Saved'), ...responses },
});
const get = createRoute({
  method: 'get', path: '/cloud/{id}', tags: ['clouds'], summary: 'One of the caller’s clouds (credentials masked)', security: userSecurity,
  request: { params }, responses: { 200: jsonContent(item, 'The cloud'), ...responses },
});
const update = createRoute({
  method: 'put', path: '/cloud/{id}', tags: ['clouds'], summary: 'Replace a cloud’s provider and credentials', security: userSecurity,
  request: { params, body }, responses: { 200: jsonContent(item, 'Updated'), ...responses },
});
const remove = createRoute({
  method: 'delete', path: '/cloud/{id}', tags: ['clouds'], summary: 'Delete a cloud', security: userSecurity,
  request: { params }, responses: { 200: jsonContent(z.object({ message: z.string() }), 'Deleted'), ...responses },
});

const offers = createRoute({
  method: 'get', path: '/cloud/{id}/offers', tags: ['clouds'], security: userSecurity,
  summary: 'What the saved key can create: server types with prices, locations and images (Hetzner Cloud, DigitalOcean; kept 5 minutes)',
  request: { params }, responses: { 200: jsonContent(z.object({ message: z.string(), item: Offers }), 'The provider’s offers'), ...responses },
});

export const cloudRoutes = createRouter()
  .openapi(list, async (c) => c.json({ message: 'OK', list: await listClouds(cloudDeps(c), callerOwnerId(c)) }, 200))
  .openapi(create, async (c) => c.json({ message: 'Created', item: await createCloud(cloudDeps(c), currentUser(c).id, c.req.valid('json')) }, 201))
  .openapi(get, async (c) => c.json({ message: 'OK', item: await getCloud(cloudDeps(c), c.req.valid('param').id, callerScope(c)) }, 200))
  .openapi(offers, async (c) => c.json({ message: 'OK', item: await cloudOffers({ ...cloudDeps(c), settings: c.var.config }, c.req.valid('param').id, callerScope(c)) }, 200))
  .openapi(update, async (c) =>
    c.json({ message: 'Updated', item: await updateCloud(cloudDeps(c), c.req.valid('param').id, callerScope(c), c.req.valid('json')) }, 200),
  )
  .openapi(remove, async (c) => {
    await deleteCloud(cloudDeps(c), c.req.valid('param').id, callerScope(c));
    return c.json({ message: 'Deleted' }, 200);
  });
