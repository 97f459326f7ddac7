// What the `stacker` command line needs of the server besides the resource routes: how to sign in
// (GET /auth/config, public: the provider's endpoints and the CLI's public client id), and the app
// catalog the dashboard's builder offers (GET /catalog, for signed-in users and their API clients).
import { createRoute, z } from '@hono/zod-openapi';
import { createRouter } from '../http/router.ts';
import { authErrorResponses, errorResponses, jsonContent, userSecurity } from '../http/openapi.ts';
import { listCatalog } from '../services/catalog.ts';
import stackerFileSchema from '../../schema/stacker.schema.json' with { type: 'json' };

const AuthConfig = z
  .object({
    issuer: z.string().nullable().openapi({ description: 'OAUTH_ISSUER' }),
    authorize_url: z.string().nullable().openapi({ description: 'OAUTH_AUTHORIZE_URL; null: this server has no sign-in for terminals (use a token)' }),
    token_url: z.string().nullable().openapi({ description: 'OAUTH_TOKEN_URL' }),
    client_id: z.string().openapi({ description: 'The public (PKCE, loopback redirect) client of terminals: OAUTH_CLI_CLIENT_ID, default stacker-cli' }),
    scope: z.string().openapi({ description: 'OAUTH_SCOPE' }),
    audience: z.string().nullable().openapi({ description: 'OAUTH_AUDIENCE: the resource the tokens are for' }),
  })
  .openapi('AuthConfig');

const authConfig = createRoute({
  method: 'get',
  path: '/auth/config',
  tags: ['health'],
  summary: 'How a terminal signs in: the OAuth provider’s endpoints and the CLI’s public client id (authorization code + PKCE, loopback redirect)',
  responses: {
    200: jsonContent(z.object({ message: z.string(), item: AuthConfig }), 'The sign-in settings'),
    429: errorResponses[429],
  },
});

const CatalogEntry = z
  .object({
    code: z.string(),
    name: z.string(),
    category: z.string(),
    description: z.string(),
    image: z.string().openapi({ description: 'Docker Hub repository' }),
    tag: z.string(),
    ports: z.array(z.object({ host_port: z.string(), container_port: z.string() })),
    environment: z.array(z.object({ key: z.string(), value: z.string() })),
    volumes: z.array(z.object({ host_path: z.string().nullable(), container_path: z.string() })),
    template: z.record(z.string(), z.unknown()).openapi({
      description:
        'What makes the entry a template: provides, exports, requires ([{as, kind, default}]), healthcheck, command, docs. Environment values and exports hold {{secret:NAME}}, {{service}}, {{published:PORT}}, {{<as>.<export>}} and {{env:KEY}} references, filled in when the app is added to a stack',
    }),
  })
  .openapi('CatalogApp');

const catalog = createRoute({
  method: 'get',
  path: '/catalog',
  tags: ['projects'],
  security: userSecurity,
  summary: 'The app catalog the Stack Builder offers: templates (code, image, default ports, environment, volumes, what each requires and provides)',
  responses: {
    200: jsonContent(z.object({ message: z.string(), list: z.array(CatalogEntry) }), 'The catalog, by category then name'),
    ...authErrorResponses,
    ...errorResponses,
  },
});

const stackerSchema = createRoute({
  method: 'get',
  path: '/schema/stacker.schema.json',
  tags: ['health'],
  summary: 'The JSON Schema of stacker.yml, for editors (`# yaml-language-server: $schema=<this URL>`)',
  responses: {
    200: { description: 'The schema (schema/stacker.schema.json)', content: { 'application/schema+json': { schema: z.record(z.string(), z.unknown()) } } },
    429: errorResponses[429],
  },
});

export const cliRoutes = createRouter()
  .openapi(stackerSchema, (c) => c.json(stackerFileSchema as Record<string, unknown>, 200, { 'Content-Type': 'application/schema+json', 'Cache-Control': 'public, max-age=3600' }))
  .openapi(authConfig, (c) => {
    const config = c.var.config;
    const item = {
      issuer: config.OAUTH_ISSUER ?? null,
      authorize_url: config.OAUTH_AUTHORIZE_URL ?? null,
      token_url: config.OAUTH_TOKEN_URL ?? null,
      client_id: config.OAUTH_CLI_CLIENT_ID,
      scope: config.OAUTH_SCOPE,
      audience: config.OAUTH_AUDIENCE ?? null,
    };
    return c.json({ message: 'OK', item }, 200);
  })
  .openapi(catalog, async (c) => {
    const rows = await listCatalog(c.var.database.db);
    const list = rows.map((row) => ({
      code: row.code,
      name: row.name,
      category: row.category,
      description: row.description,
      image: row.image,
      tag: row.tag,
      ports: row.ports,
      environment: row.environment,
      volumes: row.volumes,
      template: row.template,
    }));
    return c.json({ message: 'OK', list }, 200);
  });
