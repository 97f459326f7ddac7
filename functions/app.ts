import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { requestId } from 'hono/request-id';
import { matchedRoutes } from 'hono/route';
import { RequestDatabase } from '../db/client.ts';
import { configFromBindings, requireSetting } from './config.ts';
import { errorResponse, handleError, handleNotFound } from './http/error-handler.ts';
import { log, setLogLevel } from './logger.ts';
import { createRouter } from './http/router.ts';
import { authenticate } from './middleware/authenticate.ts';
import { useCredentialNamespace } from './services/agent-gate.ts';
import { authorize } from './middleware/authorize.ts';
import { knownRoutesOnly, type RouteSignature } from './middleware/known-route.ts';
import { rateLimit } from './middleware/rate-limit.ts';
import { agentAdminRoutes } from './api/agents-admin.ts';
import { agentRoutes } from './api/agents.ts';
import { agreementRoutes } from './api/agreements.ts';
import { cliRoutes } from './api/cli.ts';
import { clientRoutes } from './api/clients.ts';
import { dashboardRoutes } from './dashboard/index.tsx';
import { cloudRoutes } from './api/clouds.ts';
import { projectSecretRoutes } from './api/project-secrets.ts';
import { commandRoutes } from './api/commands.ts';
import { deployRoutes } from './api/deployments.ts';
import { deploymentOperationRoutes } from './api/deployment-operations.ts';
import { installRoutes } from './api/install.ts';
import { docsRoutes } from './api/docs.ts';
import { healthRoutes } from './api/health.ts';
import { metricsRoutes } from './api/metrics.ts';
import { projectRoutes } from './api/projects.ts';
import { ratingRoutes } from './api/ratings.ts';
import { serverRoutes } from './api/servers.ts';
import { webhookRoutes } from './api/webhooks.ts';
import { whoamiRoutes } from './api/whoami.ts';

export const MAX_BODY_BYTES = 2 * 1024 * 1024;

export const openApiInfo = {
  openapi: '3.1.0',
  info: {
    title: 'Stacker API',
    version: '0.1.0',
    description: 'Build docker-compose stacks, deploy them to clouds, and drive the agent on deployed servers.',
  },
};

const header = (name: string, description: string) => ({ type: 'apiKey' as const, in: 'header' as const, name, description });

/** How callers authenticate, as the OpenAPI document names them in each route's `security`. */
const securitySchemes = {
  bearer: {
    type: 'http' as const,
    scheme: 'bearer',
    description: 'TryDirect OAuth access token (a JWT verified against OAUTH_JWKS_URL, or introspected at AUTH_URL)',
  },
  hmacClient: header('stacker-id', 'API client id; goes with stacker-timestamp (Unix seconds, within 300 s), stacker-nonce (1-64 of [A-Za-z0-9_-], once) and stacker-hash'),
  hmacSignature: header(
    'stacker-hash',
    'Hex HMAC-SHA256 with the client secret of METHOD\\npath-with-query\\nstacker-timestamp\\nstacker-nonce\\nhex SHA-256 of the raw body (docs/api-clients.md)',
  ),
  agentId: header('X-Agent-Id', 'Agent UUID; goes with an Authorization header carrying the agent token as a bearer'),
  upstashSignature: header('Upstash-Signature', 'QStash JWT over the raw body and this webhook\'s URL (current or next signing key)'),
  installSignature: header('X-Install-Signature', 't=<unix seconds, within 300 s>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with INSTALL_WEBHOOK_SECRET>'),
};

/** Builds the whole API: cross-cutting middleware, every resource's routes, the OpenAPI document. */
export function createApp() {
  const app = createRouter();

  app.use(requestId({ headerName: 'X-Request-Id' }));
  app.use(async (c, next) => {
    const started = Date.now();
    c.set('receivedAt', started);
    const config = configFromBindings(c.env);
    c.set('config', config);
    setLogLevel(config.LOG_LEVEL);
    await next();
    // One line per request: no query string, no headers, no body (they may carry credentials).
    const route = matchedRoutes(c).findLast((r) => r.method !== 'ALL')?.path;
    log(c.var.routineRequest && c.res.status === 200 ? 'debug' : 'info', 'request', {
      requestId: c.var.requestId,
      method: c.req.method,
      route: route ?? null,
      path: c.req.path,
      status: c.res.status,
      durationMs: Date.now() - started,
      subject: c.var.principal?.kind ?? null,
    });
  });
  // Only the origins named in CORS_ALLOWED_ORIGINS get CORS headers (with credentials); never an echo of any origin.
  app.use(async (c, next) => {
    const allowed = c.var.config.CORS_ALLOWED_ORIGINS;
    if (allowed.length === 0) return next();
    return cors({
      origin: (origin) => (allowed.includes(origin) ? origin : null),
      credentials: true,
      allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
      allowHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', 'stacker-id', 'stacker-timestamp', 'stacker-nonce', 'stacker-hash'],
      exposeHeaders: ['X-Request-Id', 'Retry-After'],
      maxAge: 600,
    })(c, next);
  });
  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => errorResponse(c, 413, { message: `Request body is larger than ${MAX_BODY_BYTES} bytes` }),
    }),
  );
  app.use(async (c, next) => {
    const config = c.var.config;
    useCredentialNamespace(c.env.DEPLOYMENT_DOORBELL); // for rotations by code without the bindings
    const database = new RequestDatabase({
      get url() {
        return requireSetting(config, 'DATABASE_URL');
      },
      wsProxy: config.DATABASE_WS_PROXY,
    });
    c.set('database', database);
    try {
      await next();
    } finally {
      if (database.opened) {
        const closing = database.close();
        try {
          c.executionCtx.waitUntil(closing);
        } catch {
          await closing; // no execution context (e.g. app.request in a unit test)
        }
      }
    }
  });

  // The dashboard's pages, before the API's own authentication: they answer on a session cookie.
  app.route('/', dashboardRoutes);

  // Routes served outside the OpenAPI registry (the document itself).
  const documentRoutes: RouteSignature[] = [
    { method: 'GET', path: '/openapi.json' },
    { method: 'GET', path: '/docs' },
    { method: 'GET', path: '/docs/rapidoc.js' },
  ];
  app.use(
    knownRoutesOnly(() => [
      ...documentRoutes,
      ...app.openAPIRegistry.definitions.flatMap((definition) =>
        definition.type === 'route' ? [{ method: definition.route.method, path: definition.route.path }] : [],
      ),
    ]),
  );
  app.use(authenticate);
  app.use(rateLimit());
  app.use(authorize);

  for (const routes of [
    healthRoutes,
    whoamiRoutes,
    cliRoutes,
    clientRoutes,
    ratingRoutes,
    agreementRoutes,
    cloudRoutes,
    serverRoutes,
    deployRoutes,
    deploymentOperationRoutes,
    installRoutes,
    projectRoutes,
    projectSecretRoutes,
    webhookRoutes,
    agentRoutes,
    commandRoutes,
    agentAdminRoutes,
    metricsRoutes,
  ]) {
    app.route('/', routes);
  }

  for (const [name, scheme] of Object.entries(securitySchemes)) {
    app.openAPIRegistry.registerComponent('securitySchemes', name, scheme);
  }

  app.route('/', docsRoutes);
  app.doc31('/openapi.json', openApiInfo);

  app.notFound(handleNotFound);
  app.onError(handleError);
  return app;
}

export type App = ReturnType<typeof createApp>;
