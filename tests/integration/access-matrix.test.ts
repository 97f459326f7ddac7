// Every route (reference-api.md §5.1, plus the routes this project adds) against every kind of
// caller, checked through the real authentication and authorization middleware. Routes that later
// work has not built yet are stood in for by a placeholder handler, so the middleware still decides.
import { createRoute } from '@hono/zod-openapi';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../functions/app.ts';
import { createRouter } from '../../functions/http/router.ts';
import { apiOf } from '../helpers/api.ts';
import { agentHeaders, bearerFor, createAgent, createApiClientFor, hmacHeaders, uniqueId, type TestAgent, type TestClient } from '../helpers/auth.ts';

type Subject = 'anonym' | 'group_user' | 'user' | 'group_admin' | 'client' | 'agent';
const SUBJECTS: Subject[] = ['anonym', 'group_user', 'user', 'group_admin', 'client', 'agent'];

// Who may call what. "everyone" = all six; "users" = group_user, user and group_admin (admins inherit).
const everyone: Subject[] = SUBJECTS;
const users: Subject[] = ['group_user', 'user', 'group_admin'];
const usersAndClients: Subject[] = [...users, 'client'];
const admins: Subject[] = ['group_admin'];
const agentOnly: Subject[] = ['agent'];
const clientOnly: Subject[] = ['client'];

// [method, OpenAPI path, a concrete path, who is allowed]
const MATRIX: Array<[string, string, string, Subject[]]> = [
  // §5.1, in its order
  ['GET', '/health_check', '/health_check', everyone],
  ['POST', '/client', '/client', users],
  ['PUT', '/client/{id}', '/client/2147483000', users],
  ['PUT', '/client/{id}/enable', '/client/2147483000/enable', users],
  ['PUT', '/client/{id}/disable', '/client/2147483000/disable', users],
  ['POST', '/test/deploy', '/test/deploy', clientOnly],
  ['GET', '/rating/{id}', '/rating/2147483000', everyone],
  ['GET', '/rating', '/rating', everyone],
  ['POST', '/rating', '/rating', users],
  ['DELETE', '/rating/{id}', '/rating/2147483000', users],
  ['PUT', '/rating/{id}', '/rating/2147483000', users],
  ['POST', '/project/{id}/deploy', '/project/2147483000/deploy', users],
  ['POST', '/project/{id}/deploy/{cloud_id}', '/project/2147483000/deploy/2147483001', users],
  ['GET', '/project/{id}/compose', '/project/2147483000/compose', usersAndClients],
  ['GET', '/project', '/project', usersAndClients],
  ['GET', '/project/{id}', '/project/2147483000', usersAndClients],
  ['POST', '/project', '/project', users],
  // A compose file imported as a project form or project (issue 28): users, as POST /project.
  ['POST', '/project/import', '/project/import', users],
  ['PUT', '/project/{id}', '/project/2147483000', users],
  ['DELETE', '/project/{id}', '/project/2147483000', users],
  ['GET', '/admin/rating/{id}', '/admin/rating/2147483000', admins],
  ['GET', '/admin/rating', '/admin/rating', admins],
  ['PUT', '/admin/rating/{id}', '/admin/rating/2147483000', admins],
  ['DELETE', '/admin/rating/{id}', '/admin/rating/2147483000', admins],
  ['GET', '/admin/project/user/{user_id}', '/admin/project/user/someone', admins],
  ['GET', '/admin/project/{id}/compose', '/admin/project/2147483000/compose', admins],
  ['PUT', '/admin/client/{id}/enable', '/admin/client/2147483000/enable', admins],
  ['PUT', '/admin/client/{id}', '/admin/client/2147483000', admins],
  ['PUT', '/admin/client/{id}/disable', '/admin/client/2147483000/disable', admins],
  ['POST', '/admin/agreement', '/admin/agreement', admins],
  ['PUT', '/admin/agreement/{id}', '/admin/agreement/2147483000', admins],
  ['GET', '/admin/agreement/{id}', '/admin/agreement/2147483000', admins],
  ['GET', '/cloud/{id}', '/cloud/2147483000', usersAndClients],
  ['GET', '/cloud/{id}/offers', '/cloud/2147483000/offers', usersAndClients],
  // A project's secrets (issue 28): the owner (the service answers others 404) and the owner's clients.
  ['GET', '/project/{id}/secrets', '/project/2147483000/secrets', usersAndClients],
  ['GET', '/project/{id}/secrets/{name}', '/project/2147483000/secrets/DB_PASSWORD', usersAndClients],
  ['PUT', '/project/{id}/secrets/{name}', '/project/2147483000/secrets/DB_PASSWORD', usersAndClients],
  ['POST', '/project/{id}/secrets/{name}/rotate', '/project/2147483000/secrets/DB_PASSWORD/rotate', usersAndClients],
  ['GET', '/cloud', '/cloud', usersAndClients],
  ['POST', '/cloud', '/cloud', users],
  ['PUT', '/cloud/{id}', '/cloud/2147483000', users],
  ['DELETE', '/cloud/{id}', '/cloud/2147483000', users],
  ['GET', '/server/{id}', '/server/2147483000', usersAndClients],
  ['GET', '/server', '/server', usersAndClients],
  ['PUT', '/server/{id}', '/server/2147483000', users],
  ['DELETE', '/server/{id}', '/server/2147483000', users],
  ['POST', '/api/v1/agent/register', '/api/v1/agent/register', everyone],
  ['GET', '/api/v1/agent/commands/wait/{deployment_hash}', '/api/v1/agent/commands/wait/HASH?timeout=1', agentOnly],
  ['POST', '/api/v1/agent/commands/report', '/api/v1/agent/commands/report', agentOnly],
  ['POST', '/api/v1/commands', '/api/v1/commands', usersAndClients],
  ['GET', '/api/v1/commands/{deployment_hash}', '/api/v1/commands/HASH', usersAndClients],
  ['GET', '/api/v1/commands/{deployment_hash}/{command_id}', '/api/v1/commands/HASH/cmd_1', usersAndClients],
  ['POST', '/api/v1/commands/{deployment_hash}/{command_id}/cancel', '/api/v1/commands/HASH/cmd_1/cancel', users],
  ['POST', '/agreement', '/agreement', users],
  ['GET', '/agreement/{id}', '/agreement/2147483000', usersAndClients],
  ['GET', '/agreement/accepted/{id}', '/agreement/accepted/2147483000', users],
  // added by this project
  ['GET', '/openapi.json', '/openapi.json', everyone],
  ['GET', '/whoami', '/whoami', everyone],
  ['GET', '/project/deploy/status', '/project/deploy/status?deployment_id=2147483000', usersAndClients],
  ['GET', '/project/{id}/deployments', '/project/2147483000/deployments', usersAndClients],
  ['POST', '/project/{id}/deployments/{deployment_id}/cancel', '/project/2147483000/deployments/2147483001/cancel', users],
  ['GET', '/project/{id}/deployments/{deployment_id}/events', '/project/2147483000/deployments/2147483001/events', usersAndClients],
  // The built-in deploy engine (issue 26): a deployment, its operations, and enrolling a server by its install command.
  ['GET', '/project/{id}/deployments/{deployment_id}', '/project/2147483000/deployments/2147483001', usersAndClients],
  ['DELETE', '/project/{id}/deployments/{deployment_id}', '/project/2147483000/deployments/2147483001', users],
  ['POST', '/project/{id}/deployments/{deployment_id}/redeploy', '/project/2147483000/deployments/2147483001/redeploy', users],
  ['POST', '/project/{id}/deployments/{deployment_id}/rollback', '/project/2147483000/deployments/2147483001/rollback', users],
  ['POST', '/project/{id}/deployments/{deployment_id}/install-command', '/project/2147483000/deployments/2147483001/install-command', users],
  ['GET', '/install/{secret}', '/install/unknown-install-secret-000000000000000000000', everyone],
  ['POST', '/install/{secret}/enroll', '/install/unknown-install-secret-000000000000000000000/enroll', everyone],
  ['POST', '/webhooks/install', '/webhooks/install', everyone],
  ['POST', '/api/v1/apps/status', '/api/v1/apps/status', agentOnly],
  ['GET', '/api/v1/deployments/{deployment_hash}/agent', '/api/v1/deployments/HASH/agent', usersAndClients],
  ['POST', '/admin/agent/{deployment_hash}/rotate-token', '/admin/agent/deployment_unknown/rotate-token', admins],
  ['GET', '/admin/metrics', '/admin/metrics', admins],
  ['GET', '/docs', '/docs', everyone],
  ['GET', '/docs/rapidoc.js', '/docs/rapidoc.js', everyone],
  ['GET', '/auth/config', '/auth/config', everyone],
  ['GET', '/schema/stacker.schema.json', '/schema/stacker.schema.json', everyone],
  ['GET', '/catalog', '/catalog', usersAndClients],
];

const PLACEHOLDER_STATUS = 299;

function appWithPlaceholders() {
  const app = createApp();
  const built = new Set(
    app.openAPIRegistry.definitions.flatMap((d) => (d.type === 'route' ? [`${d.route.method.toUpperCase()} ${d.route.path}`] : [])),
  );
  built.add('GET /openapi.json');
  built.add('GET /docs');
  built.add('GET /docs/rapidoc.js');
  const placeholders = createRouter();
  for (const [method, path] of MATRIX) {
    if (built.has(`${method} ${path}`)) continue;
    placeholders.openapi(
      createRoute({ method: method.toLowerCase() as 'get', path, responses: { [PLACEHOLDER_STATUS]: { description: 'placeholder' } } }),
      (c) => c.body(null, PLACEHOLDER_STATUS as never),
    );
  }
  app.route('/', placeholders);
  return app;
}

let app: ReturnType<typeof appWithPlaceholders>;
let apiClient: TestClient;
let agent: TestAgent;

beforeAll(async () => {
  app = appWithPlaceholders();
  apiClient = await createApiClientFor();
  agent = await createAgent();
});

async function credentials(subject: Subject, method = 'GET', url = '/'): Promise<Record<string, string>> {
  switch (subject) {
    case 'anonym':
      return {};
    case 'client':
      return hmacHeaders(apiClient, method, url);
    case 'agent':
      return agentHeaders(agent);
    default:
      return bearerFor(subject, uniqueId(subject));
  }
}

describe('access matrix', () => {
  it('lists every route the app serves', () => {
    const served = createApp()
      .openAPIRegistry.definitions.flatMap((d) => (d.type === 'route' ? [`${d.route.method.toUpperCase()} ${d.route.path}`] : []));
    const listed = new Set(MATRIX.map(([method, path]) => `${method} ${path}`));
    expect(served.filter((route) => !listed.has(route))).toEqual([]);
    expect(MATRIX.length).toBeGreaterThanOrEqual(51);
  });

  for (const [method, path, concrete, allowed] of MATRIX) {
    it(`${method} ${path}`, async () => {
      const outcome: Record<string, string> = {};
      const expected: Record<string, string> = {};
      for (const subject of SUBJECTS) {
        const url = concrete.replace('HASH', subject === 'agent' ? agent.deploymentHash : 'deployment_unknown');
        const response = await apiOf(app, url, { method, headers: await credentials(subject, method, url) });
        // Refused by authorization (not by the handler's own checks, e.g. a webhook's signature).
        const message = response.status === 401 || response.status === 403 ? ((await response.clone().json()) as { message: string }).message : '';
        const denied = (response.status === 401 && message === 'Authentication required') || (response.status === 403 && message.startsWith('Not allowed'));
        // A 5xx or 429 is neither: shown with its message, so a failure says what happened.
        const failed = response.status >= 500 || response.status === 429;
        outcome[subject] = denied
          ? `deny ${response.status}`
          : failed
            ? `error ${response.status}: ${await response.clone().text()}`
            : message && !allowed.includes(subject)
              ? `refused ${response.status}: ${message}`
              : 'allow';
        expected[subject] = allowed.includes(subject) ? 'allow' : subject === 'anonym' ? 'deny 401' : 'deny 403';
        await response.body?.cancel();
      }
      expect(outcome).toEqual(expected);
    });
  }

  it('an unknown route is 404 for every subject', async () => {
    for (const subject of SUBJECTS) {
      const response = await apiOf(app, '/no/such/thing', { headers: await credentials(subject, 'GET', '/no/such/thing') });
      expect(response.status, subject).toBe(404);
    }
  });
});
