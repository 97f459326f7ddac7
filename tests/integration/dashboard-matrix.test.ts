// Every route of the dashboard (dashboardRoutes.routes), automatically: a route added later without a
// line in ROUTES fails the inventory. For each route: who may reach it (a visitor without a session, a
// signed-in user on another user's rows, a user without the admin role, an admin, the owner), forms from
// another origin, hostile form bodies and bad path parameters. A page answers every one of them: never a
// 5xx, never a stack trace or internal text, and a refused request changes no row.
import { env } from 'cloudflare:test';
import { exports } from 'cloudflare:workers';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../db/client.ts';
import { configFromBindings, requireSetting } from '../../functions/config.ts';
import { dashboardRoutes } from '../../functions/dashboard/index.tsx';
import { emptyProjectForm } from '../../functions/dashboard/projects.tsx';
import { addCustomApp, addNetwork, type RawForm } from '../../functions/services/stack-form.ts';
import { listAllApiClients, listApiClients } from '../../functions/services/api-clients.ts';
import { catalogEntrySchema, createCatalogApp, deleteCatalogApp, getCatalogApp } from '../../functions/services/catalog.ts';
import { createCloud, listClouds, type CloudDeps } from '../../functions/services/clouds.ts';
import { createCommand } from '../../functions/services/commands.ts';
import { sha256Hex } from '../../functions/services/crypto.ts';
import { createSession, sessionUser } from '../../functions/services/dashboard-sessions.ts';
import { findDeployment } from '../../functions/services/deployments.ts';
import { projectFormSchema } from '../../functions/services/inputs/projects.ts';
import { createProject, listProjects } from '../../functions/services/projects.ts';
import { setProjectSecret } from '../../functions/services/project-secrets.ts';
import { createRating, listRatings } from '../../functions/services/ratings.ts';
import { createServer, listServers } from '../../functions/services/servers.ts';
import { api, apiWith, BASE_URL } from '../helpers/api.ts';
import { createApiClientFor, hmacHeaders, uniqueId, type TestClient } from '../helpers/auth.ts';
import { withDatabase } from '../helpers/db.ts';

type Fields = Array<[string, string]>;
type Headers = Record<string, string>;

/** One request: where, with which form, as whom (a session's cookie), with which settings changed. */
interface Target {
  path: string;
  form?: Fields;
  headers?: Headers;
  settings?: Record<string, unknown>;
}

/** The rows one owner has, each a route's path parameter. */
interface Fixture {
  owner: string;
  /** In the names and comments of the owner's rows: a page shown to anyone else must not contain it. */
  marker: string;
  session: Headers;
  strangerSession: Headers;
  adminSession: Headers;
  /** The owner's session token (for "the sign-out from another origin ended nothing"). */
  token: string;
  /** A project with an app (code `web`) and a network. */
  projectId: number;
  networkId: string;
  /** A deployment of that project (for its live event feed). */
  deploymentId: number;
  cloudId: number;
  serverId: number;
  client: TestClient;
  /** Another user's API client, for the admin's pages. */
  victim: TestClient;
  productId: number;
  ratingId: number;
  /** A catalog app of this test's own (the seeded ones are never touched). */
  catalogCode: string;
  /** The code the admin's add form posts (created only by the owner-side requests). */
  newCatalogCode: string;
}

type Access = 'public' | 'user' | 'admin';

interface RouteCase {
  access: Access;
  /** The route at the fixture's own rows, with a valid form for a POST. */
  at(fx: Fixture): Target;
  /** What the owner (an admin, on admin routes) gets for `at` (or `fresh`). */
  ok: number;
  /**
   * For routes whose success uses up their row (deletes, a sign-out, adding the one server of a
   * project): each owner-side request gets a new row from here, so every one of them has a valid path.
   */
  fresh?(fx: Fixture, db: Database): Promise<Target>;
  /** What a signed-in user gets on the owner's rows: 404 for a route with a row in its path, 200 for a list. */
  stranger?: number | 'acts on their own rows';
  /** For the sign-in pages: what a visitor without a session gets. */
  anonymous?: { status: number; location?: RegExp };
  /** The owner's answer when it is not a page: its content type and some of its text (a stream: its first event). */
  answer?: { contentType: RegExp; contains: string; stream?: boolean };
}

const SIGN_IN_SETTINGS = { OAUTH_AUTHORIZE_URL: 'https://auth.example/authorize', OAUTH_TOKEN_URL: 'https://auth.example/token', OAUTH_CLIENT_ID: 'dash' };

const stackPath = (fx: Fixture, rest = '') => `/projects/${fx.projectId}${rest}`;
const appForm = (fx: Fixture): Fields => [
  ['name', 'Web'],
  ['code', 'web'],
  ['image', 'nginx'],
  ['tag', '1.27'],
  ['restart', 'always'],
  ['domain', ''],
  ['port_host', ''],
  ['port_container', '80'],
  ['port_protocol', 'tcp'],
  ['env_key', 'MARK'],
  ['env_value', fx.marker],
  ['network', fx.networkId],
];
const serverFields = (fx: Fixture): Fields => [
  ['server', `${fx.marker}-srv`],
  ['region', 'fsn1'],
  ['zone', 'a'],
  ['os', 'ubuntu-22.04'],
  ['disk_type', 'ssd'],
  ['srv_ip', '203.0.113.9'],
  ['ssh_port', '22'],
  ['ssh_user', 'root'],
];
const catalogFields = (code: string): Fields => [
  ['code', code],
  ['name', `App ${code}`],
  ['category', 'Testing'],
  ['description', 'A dashboard matrix app'],
  ['image', 'grafana/grafana'],
  ['tag', '11.2'],
  // No host port: catalog apps may not publish the same one, and other files add apps at the same time.
  ['port_host', ''],
  ['port_container', '3000'],
  ['env_key', 'GF_DEFAULT'],
  ['env_value', '1'],
  ['volume_host', ''],
  ['volume_container', '/var/lib/grafana'],
];

/**
 * Every dashboard route and how to exercise it. The inventory test fails when dashboardRoutes.routes
 * has a route that is not here, or this has one it does not serve.
 */
const ROUTES: Record<string, RouteCase> = {
  // ---- sign-in (public) ----
  'GET /': { access: 'public', at: () => ({ path: '/' }), ok: 303, anonymous: { status: 200 } },
  'GET /login': { access: 'public', at: () => ({ path: '/login', settings: SIGN_IN_SETTINGS }), ok: 303, anonymous: { status: 303, location: /^https:\/\/auth\.example\/authorize\?/ } },
  'GET /auth/callback': { access: 'public', at: () => ({ path: '/auth/callback' }), ok: 400, anonymous: { status: 400 } },
  'POST /logout': {
    access: 'public',
    at: () => ({ path: '/logout', form: [] }),
    ok: 303,
    anonymous: { status: 303, location: /^\/$/ },
    fresh: async (fx, db) => ({ path: '/logout', form: [], headers: await sessionOf(db, fx.owner) }),
  },
  // ---- projects ----
  'GET /projects': { access: 'user', at: () => ({ path: '/projects' }), ok: 200 },
  'POST /projects': { access: 'user', at: () => ({ path: '/projects', form: [['name', uniqueId('mxnew')]] }), ok: 303, stranger: 'acts on their own rows' },
  'POST /projects/:id/delete': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, '/delete'), form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: `/projects/${(await newStack(db, fx.owner, uniqueId('mxdel'))).id}/delete`, form: [] }),
  },
  // ---- the builder ----
  'GET /projects/:id': { access: 'user', at: (fx) => ({ path: stackPath(fx) }), ok: 200 },
  'GET /projects/:id/compose.yml': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/compose.yml') }), ok: 200, answer: { contentType: /^application\/yaml/, contains: 'services:' } },
  // ---- deploying, and a deployment's page ----
  'GET /projects/:id/deploy': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/deploy') }), ok: 200 },
  'GET /projects/:id/deploy/offers': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deploy/offers?cloud_id=${fx.cloudId}`) }), ok: 200 },
  'POST /projects/:id/deploy': {
    access: 'user',
    at: (fx) => ({
      path: stackPath(fx, '/deploy'),
      form: [['idempotency_key', crypto.randomUUID()], ['cloud_id', String(fx.cloudId)], ['target', 'new'], ['server', 'cx11'], ['region', 'fsn1'], ['os', 'ubuntu-22.04']],
    }),
    ok: 303,
  },
  'GET /projects/:id/deployments/:deploymentId': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}`) }), ok: 200 },
  'GET /projects/:id/deployments/:deploymentId/state': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/state`) }), ok: 200 },
  'POST /projects/:id/deployments/:deploymentId/cancel': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/cancel`), form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: stackPath(fx, `/deployments/${await newDeployment(db, fx.owner, fx.projectId)}/cancel`), form: [] }),
  },
  // ---- the built-in engine's buttons (the fixture's deployment is the install service's: each says so on the page) ----
  'POST /projects/:id/deployments/:deploymentId/redeploy': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/redeploy`), form: [] }), ok: 303 },
  'POST /projects/:id/deployments/:deploymentId/rollback': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/rollback`), form: [['revision', '1']] }),
    ok: 303,
  },
  'POST /projects/:id/deployments/:deploymentId/remove': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/remove`), form: [] }), ok: 303 },
  'POST /projects/:id/deployments/:deploymentId/install-command': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/install-command`), form: [] }),
    ok: 303,
  },
  // ---- a deployment's live event feed (Server-Sent Events) ----
  'GET /projects/:id/deployments/:deploymentId/events': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/events`) }),
    ok: 200,
    answer: { contentType: /^text\/event-stream/, contains: 'event: hello', stream: true },
  },
  // ---- a deployment's agent console (the fixture's deployment has no agent: `fresh` gives one where it must) ----
  'GET /projects/:id/deployments/:deploymentId/agent': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/agent`) }), ok: 200 },
  'GET /projects/:id/deployments/:deploymentId/agent/panel': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/agent/panel`) }), ok: 200 },
  'GET /projects/:id/deployments/:deploymentId/agent/commands': { access: 'user', at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/agent/commands`) }), ok: 200 },
  'POST /projects/:id/deployments/:deploymentId/agent/commands': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/agent/commands`), form: commandFields() }),
    ok: 303,
  },
  'POST /projects/:id/deployments/:deploymentId/agent/commands/:commandId/cancel': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/agent/commands/cmd_none/cancel`), form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/agent/commands/${await newCommand(db, fx)}/cancel`), form: [] }),
  },
  'POST /projects/:id/deployments/:deploymentId/agent/rotate': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/deployments/${fx.deploymentId}/agent/rotate`), form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: stackPath(fx, `/deployments/${await newDeploymentWithAgent(db, fx.owner, fx.projectId)}/agent/rotate`), form: [] }),
  },
  'POST /projects/:id/rename': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/rename'), form: [['name', `${fx.marker}-stack`]] }), ok: 303 },
  'POST /projects/:id/apps': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/apps'), form: [['catalog', fx.catalogCode]] }), ok: 303 },
  'POST /projects/:id/containers': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, '/containers'), form: [['image', 'nginx:1.27'], ['app_name', 'sidecar'], ['list', 'service']] }),
    ok: 303,
  },
  'POST /projects/:id/import': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, '/import'), form: [['compose', `services:\n  ${uniqueId('mximp')}:\n    image: nginx:1.27\n`]] }),
    ok: 303,
  },
  'POST /projects/:id/networks': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/networks'), form: [['network_name', 'frontend']] }), ok: 303 },
  'POST /projects/:id/networks/:network/delete': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, `/networks/${fx.networkId}/delete`), form: [] }),
    ok: 303,
    fresh: async (fx, db) => {
      const stack = await newStack(db, fx.owner, uniqueId('mxnet'));
      return { path: `/projects/${stack.id}/networks/${stack.networkId}/delete`, form: [] };
    },
  },
  'GET /projects/:id/apps/:code': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/apps/web') }), ok: 200 },
  'POST /projects/:id/apps/:code': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/apps/web'), form: appForm(fx) }), ok: 303 },
  'POST /projects/:id/apps/:code/env': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/apps/web/env'), form: [['env_file', `MARK=${fx.marker}\nLEVEL=2\n`]] }), ok: 303 },
  'POST /projects/:id/apps/:code/delete': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, '/apps/web/delete'), form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: `/projects/${(await newStack(db, fx.owner, uniqueId('mxapp'))).id}/apps/web/delete`, form: [] }),
  },
  // ---- a project's secrets (the owner's only) ----
  'GET /projects/:id/secrets': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/secrets') }), ok: 200 },
  'POST /projects/:id/secrets/set': { access: 'user', at: (fx) => ({ path: stackPath(fx, '/secrets/set'), form: [['name', 'MX_TOKEN'], ['value', `${fx.marker}-value`]] }), ok: 303 },
  'POST /projects/:id/secrets/:name/reveal': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, '/secrets/MX_SECRET/reveal'), form: [] }),
    ok: 200,
    fresh: async (fx, db) => ({ path: stackPath(fx, `/secrets/${await newSecret(db, fx)}/reveal`), form: [] }),
  },
  'POST /projects/:id/secrets/:name/rotate': {
    access: 'user',
    at: (fx) => ({ path: stackPath(fx, '/secrets/MX_SECRET/rotate'), form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: stackPath(fx, `/secrets/${await newSecret(db, fx)}/rotate`), form: [] }),
  },
  // ---- cloud keys ----
  'GET /keys': { access: 'user', at: () => ({ path: '/keys' }), ok: 200 },
  'POST /keys': { access: 'user', at: () => ({ path: '/keys', form: [['provider', 'htz'], ['cloud_token', `tok_${uniqueId('k')}`]] }), ok: 303, stranger: 'acts on their own rows' },
  'POST /keys/:id/delete': {
    access: 'user',
    at: (fx) => ({ path: `/keys/${fx.cloudId}/delete`, form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: `/keys/${(await newCloud(db, fx.owner)).id}/delete`, form: [] }),
  },
  // ---- servers ----
  'GET /servers': { access: 'user', at: () => ({ path: '/servers' }), ok: 200 },
  'POST /servers': {
    access: 'user',
    // The owner's project that has its server already: refused for anyone; `fresh` gives a project without one.
    at: (fx) => ({ path: '/servers', form: [['project_id', String(fx.projectId)], ...serverFields(fx)] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: '/servers', form: [['project_id', String((await newStack(db, fx.owner, uniqueId('mxsrv'))).id)], ...serverFields(fx)] }),
    // Not one of theirs: the form's 400, and no server is added to the owner's project.
    stranger: 400,
  },
  'GET /servers/:id': { access: 'user', at: (fx) => ({ path: `/servers/${fx.serverId}` }), ok: 200 },
  'POST /servers/:id': { access: 'user', at: (fx) => ({ path: `/servers/${fx.serverId}`, form: serverFields(fx) }), ok: 303 },
  'POST /servers/:id/delete': {
    access: 'user',
    at: (fx) => ({ path: `/servers/${fx.serverId}/delete`, form: [] }),
    ok: 303,
    fresh: async (fx, db) => {
      const stack = await newStack(db, fx.owner, uniqueId('mxsd'));
      return { path: `/servers/${(await createServer(db, fx.owner, stack.id, { server: uniqueId('srv') })).id}/delete`, form: [] };
    },
  },
  // ---- API clients (the owner has one of the two allowed: creating a second works once, then 409) ----
  'GET /clients': { access: 'user', at: () => ({ path: '/clients' }), ok: 200 },
  'POST /clients': { access: 'user', at: () => ({ path: '/clients', form: [['request_key', crypto.randomUUID()]] }), ok: 200, stranger: 'acts on their own rows' },
  // In this order for the owner: renew (a new secret, 200), disable (303), enable (a new secret, 200).
  'POST /clients/:id/renew': { access: 'user', at: (fx) => ({ path: `/clients/${fx.client.id}/renew`, form: [] }), ok: 200 },
  'POST /clients/:id/disable': { access: 'user', at: (fx) => ({ path: `/clients/${fx.client.id}/disable`, form: [] }), ok: 303 },
  'POST /clients/:id/enable': { access: 'user', at: (fx) => ({ path: `/clients/${fx.client.id}/enable`, form: [] }), ok: 200 },
  // ---- ratings ----
  'GET /ratings': { access: 'user', at: () => ({ path: '/ratings' }), ok: 200 },
  'POST /ratings': {
    access: 'user',
    at: (fx) => ({ path: '/ratings', form: [['obj_id', String(fx.productId)], ['category', 'Design'], ['rate', '5'], ['comment', fx.marker]] }),
    ok: 303,
    stranger: 'acts on their own rows',
  },
  'GET /ratings/:id/edit': { access: 'user', at: (fx) => ({ path: `/ratings/${fx.ratingId}/edit` }), ok: 200 },
  'POST /ratings/:id': { access: 'user', at: (fx) => ({ path: `/ratings/${fx.ratingId}`, form: [['rate', '7'], ['comment', fx.marker]] }), ok: 303 },
  'POST /ratings/:id/delete': {
    access: 'user',
    at: (fx) => ({ path: `/ratings/${fx.ratingId}/delete`, form: [] }),
    ok: 303,
    fresh: async (fx, db) => ({ path: `/ratings/${(await newRating(db, fx.owner, fx.marker)).id}/delete`, form: [] }),
  },
  // ---- admin ----
  'GET /admin': { access: 'admin', at: () => ({ path: '/admin' }), ok: 200 },
  'GET /admin/projects': { access: 'admin', at: (fx) => ({ path: `/admin/projects?q=${fx.owner}` }), ok: 200 },
  'GET /admin/catalog': { access: 'admin', at: () => ({ path: '/admin/catalog' }), ok: 200 },
  'POST /admin/catalog': { access: 'admin', at: (fx) => ({ path: '/admin/catalog', form: catalogFields(fx.newCatalogCode) }), ok: 303 },
  'GET /admin/catalog/:code': { access: 'admin', at: (fx) => ({ path: `/admin/catalog/${fx.catalogCode}` }), ok: 200 },
  'POST /admin/catalog/:code': { access: 'admin', at: (fx) => ({ path: `/admin/catalog/${fx.catalogCode}`, form: catalogFields(fx.catalogCode) }), ok: 303 },
  'POST /admin/catalog/:code/delete': {
    access: 'admin',
    at: (fx) => ({ path: `/admin/catalog/${fx.catalogCode}/delete`, form: [] }),
    ok: 303,
    fresh: async (_fx, db) => ({ path: `/admin/catalog/${await newCatalogApp(db)}/delete`, form: [] }),
  },
  'GET /admin/clients': { access: 'admin', at: (fx) => ({ path: `/admin/clients?owner=${fx.victim.userId}` }), ok: 200 },
  // In this order for the admin: disable, then enable.
  'POST /admin/clients/:id/disable': { access: 'admin', at: (fx) => ({ path: `/admin/clients/${fx.victim.id}/disable`, form: [] }), ok: 303 },
  'POST /admin/clients/:id/enable': { access: 'admin', at: (fx) => ({ path: `/admin/clients/${fx.victim.id}/enable`, form: [] }), ok: 303 },
};

const CASES = Object.entries(ROUTES).map(([key, route]) => {
  const [method, template] = key.split(' ') as [string, string];
  return { key, method, template, ...route };
});
type Case = (typeof CASES)[number];

// ---- making rows ----------------------------------------------------------------------------------

const cloudDeps = (db: Database): CloudDeps => ({ db, securityKey: requireSetting(configFromBindings(env), 'SECURITY_KEY') });

async function sessionOf(db: Database, userId: string, role = 'group_user'): Promise<Headers> {
  return { cookie: `__Host-stacker_session=${await createSession(db, { id: userId, role, email: `${userId}@example.com` })}` };
}

/** A project as the builder makes it: one web app (code `web`, nginx) and one network. */
async function newStack(db: Database, owner: string, name: string): Promise<{ id: number; networkId: string }> {
  const form = emptyProjectForm(name) as RawForm;
  addCustomApp(form, { image: 'nginx:1.27', name: 'web', list: 'web' });
  addNetwork(form, 'backend');
  const { project } = await createProject({ db, dockerHub: { baseUrl: 'http://unused.invalid', enabled: false } }, owner, projectFormSchema.parse(form), form);
  return { id: project.id, networkId: (form.custom.networks as Array<{ id: string }>)[0]!.id };
}

/** A secret of the fixture's project, set by its owner (its value is not the marker: the reveal shows it). */
async function newSecret(db: Database, fx: Fixture): Promise<string> {
  const name = `MX_${uniqueId('s').toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
  await setProjectSecret({ db, securityKey: cloudDeps(db).securityKey }, fx.projectId, fx.owner, name, 'a-matrix-secret-value');
  return name;
}

const newCloud = (db: Database, owner: string) => createCloud(cloudDeps(db), owner, { provider: 'htz', cloud_token: `tok_${uniqueId('c')}`, save_token: true });

/** A product of its own (one visible rating per product and category and user). */
async function newRating(db: Database, owner: string, comment: string, objId?: number) {
  const id = objId ?? (await newProduct(db));
  return createRating({ db }, owner, { objId: id, category: 'DeploymentSpeed', rate: 8, comment });
}

async function newProduct(db: Database): Promise<number> {
  const id = 1_000_000_000 + Math.floor(Math.random() * 1_000_000_000);
  await db.execute(sql`insert into product (id, obj_id, obj_type) values (${id}, ${id}, 'Application') on conflict do nothing`);
  return id;
}

const createdCodes: string[] = [];

async function newCatalogApp(db: Database): Promise<string> {
  const code = uniqueId('mxc');
  createdCodes.push(code);
  const fields = Object.fromEntries(catalogFields(code));
  await createCatalogApp(
    db,
    catalogEntrySchema.parse({
      ...fields,
      ports: [{ host_port: '', container_port: '3000' }],
      environment: [{ key: 'GF_DEFAULT', value: '1' }],
      volumes: [{ host_path: '', container_path: '/var/lib/grafana' }],
    }),
  );
  return code;
}

const commandFields = (): Fields => [
  ['command_type', 'health'],
  ['other_type', ''],
  ['parameters', '{"app_code": "web"}'],
  ['priority', 'normal'],
  ['timeout_seconds', '300'],
  ['idempotency_key', crypto.randomUUID()],
];

/** A queued command for the fixture's deployment (cancelled by the owner's request). */
async function newCommand(db: Database, fx: Fixture): Promise<string> {
  const { deploymentHash } = await findDeployment(db, { id: fx.deploymentId }, { ownerId: fx.owner });
  const input = { command_type: 'health', priority: 'normal' as const, parameters: { app_code: 'web' }, timeout_seconds: 300 };
  return (await createCommand(db, { deploymentHash, scope: { ownerId: fx.owner }, createdBy: fx.owner, input })).command.commandId;
}

/** A deployment of the project with an agent (its token made here and dropped: only its hash is kept). */
async function newDeploymentWithAgent(db: Database, owner: string, projectId: number): Promise<number> {
  const id = await newDeployment(db, owner, projectId);
  const { deploymentHash } = await findDeployment(db, { id }, { ownerId: owner });
  await db.execute(sql`insert into agents (deployment_hash, token_hash, version) values (${deploymentHash}, ${await sha256Hex(crypto.randomUUID())}, '0.2.1')`);
  return id;
}

/** A deployment row of the project, as the deploy service leaves one (tests/helpers/auth.ts's createDeployment does the same). */
async function newDeployment(db: Database, owner: string, projectId: number): Promise<number> {
  const result = await db.execute<{ id: number }>(sql`
    insert into deployment (project_id, metadata, status, deployment_hash, user_id)
    values (${projectId}, '{}', 'pending', ${`deployment_${crypto.randomUUID()}`}, ${owner}) returning id`);
  return result.rows[0]!.id;
}

async function buildFixture(): Promise<Fixture> {
  const owner = uniqueId('mxo');
  const marker = uniqueId('mark');
  const [client, victim] = await Promise.all([createApiClientFor(owner), createApiClientFor(uniqueId('mxv'))]);
  return withDatabase(async (db) => {
    const token = await createSession(db, { id: owner, role: 'group_user', email: `${owner}@example.com` });
    const stack = await newStack(db, owner, `${marker}-stack`);
    const cloud = await newCloud(db, owner);
    const server = await createServer(db, owner, stack.id, { server: `${marker}-srv`, srv_ip: '203.0.113.9' });
    const productId = await newProduct(db);
    const rating = await newRating(db, owner, marker, productId);
    const newCatalogCode = uniqueId('mxn');
    createdCodes.push(newCatalogCode);
    return {
      owner,
      marker,
      token,
      session: { cookie: `__Host-stacker_session=${token}` },
      strangerSession: await sessionOf(db, uniqueId('mxs')),
      adminSession: await sessionOf(db, uniqueId('mxa'), 'group_admin'),
      projectId: stack.id,
      networkId: stack.networkId,
      deploymentId: await newDeployment(db, owner, stack.id),
      cloudId: cloud.id,
      serverId: server.id,
      client,
      victim,
      productId,
      ratingId: rating.id,
      catalogCode: await newCatalogApp(db),
      newCatalogCode,
    };
  });
}

/** The owner-side target of a route: a new row for the routes that use theirs up. */
const ownTarget = (route: Case, fx: Fixture, db: Database): Promise<Target> => (route.fresh ? route.fresh(fx, db) : Promise.resolve(route.at(fx)));

/** Who the owner of a route is: the fixture's owner, or its admin on admin pages. */
const ownerSession = (route: Case, fx: Fixture) => (route.access === 'admin' ? fx.adminSession : fx.session);

/** Everything the fixture's owner (and the admin pages' victim) has, as the services read it back. */
async function snapshot(fx: Fixture) {
  const rows = await withDatabase(async (db) => ({
    projects: await listProjects(db, fx.owner),
    clouds: await listClouds(cloudDeps(db), fx.owner),
    servers: await listServers(db, fx.owner),
    clients: await listApiClients(db, fx.owner),
    victimClients: await listAllApiClients(db, fx.victim.userId),
    ratings: await listRatings({ db }, { userId: fx.owner, limit: 100, offset: 0 }, { includeHidden: true }),
    catalog: await getCatalogApp(db, fx.catalogCode),
    newCatalog: await getCatalogApp(db, fx.newCatalogCode).catch(() => 'absent'),
    signedIn: (await sessionUser(db, fx.token))?.id,
  }));
  // The secrets still sign: nothing renewed or disabled them.
  const signs = async (client: TestClient) => (await api('/test/deploy', { method: 'POST', headers: await hmacHeaders(client, 'POST', '/test/deploy') })).status;
  return { ...rows, clientSigns: await signs(fx.client), victimSigns: await signs(fx.victim) };
}

// ---- sending and judging --------------------------------------------------------------------------

interface Body {
  contentType?: string;
  body: BodyInit;
}

const URLENCODED = 'application/x-www-form-urlencoded';
const urlencoded = (fields: Fields): Body => ({ contentType: URLENCODED, body: new URLSearchParams(fields).toString() });

function send(method: string, target: Target, options: { headers?: Headers; body?: Body; origin?: string } = {}): Promise<Response> {
  const headers: Headers = { ...options.headers, ...target.headers };
  let body: BodyInit | undefined;
  if (method === 'POST') {
    const sent = options.body ?? urlencoded(target.form ?? []);
    headers.origin = options.origin ?? BASE_URL;
    if (sent.contentType !== undefined) headers['content-type'] = sent.contentType;
    body = sent.body;
  }
  const init: RequestInit = { method, headers, body, redirect: 'manual' };
  return target.settings ? apiWith(target.settings, target.path, init) : api(target.path, init);
}

const ALLOWED = [200, 303, 400, 403, 404, 409, 413, 422];

/** A quote as it stands in a page's text (escaped) or raw. */
const Q = '(?:"|&quot;|&#34;)';

/** Internal text a page must never show. */
const INTERNALS: Array<[string, RegExp]> = [
  ['a stack line', /^\s*at .+:\d+:\d+\)?\s*$|\bat (?:async )?[\w$.<>]+ \([^)]*:\d+:\d+\)/m],
  ['an error class', /\b(?:TypeError|ReferenceError|RangeError|SyntaxError|ZodError|DrizzleError|NeonDbError|PostgresError|DatabaseError|HTTPException)\b/],
  // As drizzle writes it (quoted identifiers, $1 placeholders) and as PostgreSQL words its errors.
  [
    'SQL',
    new RegExp(
      `Failed query|\\b(?:select|insert into|delete from|update)\\s+${Q}|\\bfrom ${Q}\\w+${Q}|\\bwhere ${Q}|= \\$\\d+\\b|duplicate key value|violates [\\w ]*constraint|syntax error at or near|invalid input syntax for|invalid byte sequence|relation ${Q}\\w+${Q} does not exist`,
      'i',
    ),
  ],
  ['a source path', /node_modules|file:\/\/|\.tsx?:\d+/],
  ['a raw zod issue', /"code"\s*:\s*"(?:invalid_|too_|custom)|"issues"\s*:\s*\[/],
  ['the generic 500 page', /Something went wrong on our side/],
];

/** Runs `work` on each item, at most `size` at a time (each request is a database connection; other files run too). */
async function inPool<T, R>(items: readonly T[], size: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(size, items.length) }, worker));
  return results;
}

/** How many requests this file has open at once. */
const AT_ONCE = 10;

/** What is wrong with this answer to a request that must be answered with a page (empty when nothing). */
async function judge(response: Response, what: string, allowed: readonly number[] = ALLOWED): Promise<string[]> {
  const text = await response.text();
  const said = `${what} → ${response.status} ${text.replace(/\s+/g, ' ').slice(0, 160)}`;
  const problems: string[] = [];
  if (!allowed.includes(response.status)) problems.push(`status not in ${allowed.join('/')}: ${said}`);
  if (response.status < 300 || response.status >= 400) {
    const type = response.headers.get('content-type') ?? '';
    if (!/^text\/html\b/.test(type)) problems.push(`not an HTML page (${type || 'no content-type'}): ${said}`);
  }
  for (const [name, pattern] of INTERNALS) {
    const found = pattern.exec(text);
    if (found) problems.push(`shows ${name} (“${found[0].slice(0, 80)}”): ${said}`);
  }
  return problems;
}

/**
 * A stream's status, type and first event; then the reader lets go (the page's script would reconnect).
 * Sent to the Worker directly: the recording helper (api) reads a whole body, and a stream has no end.
 */
async function firstEvent(route: Case, target: Target, fx: Fixture, what: string): Promise<string[]> {
  const response = await exports.default.fetch(new Request(`${BASE_URL}${target.path}`, { headers: ownerSession(route, fx) }));
  const type = response.headers.get('content-type') ?? '';
  const reader = response.body!.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  await reader.cancel();
  const problems: string[] = [];
  if (response.status !== route.ok) problems.push(`${what}: ${response.status}, expected ${route.ok}: ${first.slice(0, 200)}`);
  if (!route.answer!.contentType.test(type) || !first.includes(route.answer!.contains)) problems.push(`${what}: ${type} ${first.slice(0, 100)}`);
  return problems;
}

/** The path with the parameter at segment `index` replaced (the template tells which segments are parameters). */
function withParam(path: string, index: number, value: string): string {
  const [pathname, query] = path.split('?');
  const segments = pathname!.split('/');
  segments[index] = value;
  return segments.join('/') + (query === undefined ? '' : `?${query}`);
}

const paramSegments = (template: string) =>
  template
    .split('/')
    .map((segment, index) => ({ segment, index }))
    .filter(({ segment }) => segment.startsWith(':'))
    .map(({ segment, index }) => ({ name: segment.slice(1), index }));

// ---- the tests ------------------------------------------------------------------------------------

afterAll(async () => {
  const codes = createdCodes.splice(0);
  await withDatabase(async (db) => {
    for (const code of codes) await deleteCatalogApp(db, code).catch(() => undefined);
  });
});

describe('the dashboard route inventory', () => {
  it('has a line in ROUTES for every page route dashboardRoutes serves, and none it does not', () => {
    const served = dashboardRoutes.routes.filter((r) => r.method !== 'ALL' && !r.path.startsWith('/assets/')).map((r) => `${r.method} ${r.path}`);
    expect(served.length).toBeGreaterThan(40);
    expect(served.filter((key) => !(key in ROUTES)), 'served but not in ROUTES: add a line for each').toEqual([]);
    expect(Object.keys(ROUTES).filter((key) => !served.includes(key)), 'in ROUTES but not served').toEqual([]);
    expect([...new Set(served.map((key) => key.split(' ')[0]))].sort()).toEqual(['GET', 'POST']);
    // Public means a sign-in page, admin means an /admin page.
    for (const route of CASES) {
      expect(route.access === 'public', route.key).toBe(['/', '/login', '/auth/callback', '/logout'].includes(route.template));
      expect(route.access === 'admin', route.key).toBe(route.template === '/admin' || route.template.startsWith('/admin/'));
    }
  });
});

describe('the dashboard access matrix', () => {
  let fx: Fixture;
  let before: Awaited<ReturnType<typeof snapshot>>;

  beforeAll(async () => {
    fx = await buildFixture();
    before = await snapshot(fx);
  });

  it('each line of ROUTES fills its path with the fixture’s rows', () => {
    for (const route of CASES) {
      const path = route.at(fx).path.split('?')[0]!;
      const pattern = new RegExp(`^${route.template.replace(/:[A-Za-z]+/g, '[^/]+')}$`);
      expect(path, route.key).toMatch(pattern);
      expect(route.at(fx).form !== undefined, `${route.key}: a POST has a form, a GET none`).toBe(route.method === 'POST');
    }
  });

  it('the sign-in pages answer a visitor as documented; every other page sends them to sign in and their forms change nothing', async () => {
    const problems = (
      await inPool(CASES, AT_ONCE, async (route) => {
        const target = route.at(fx);
        const response = await send(route.method, target);
        const what = `anonymous ${route.key} (${target.path})`;
        const expected = route.anonymous ?? { status: 303, location: /^\/login$/ };
        const found: string[] = [];
        if (response.status !== expected.status) found.push(`${what}: ${response.status}, expected ${expected.status}`);
        if (expected.location && !expected.location.test(response.headers.get('location') ?? '')) found.push(`${what}: location ${response.headers.get('location')}`);
        return [...found, ...(await judge(response, what))];
      })
    ).flat();
    expect(problems).toEqual([]);
    expect(await snapshot(fx)).toEqual(before);
  });

  it('the sign-in pages: the start page links to sign in (a session goes on to the projects), sign-in goes to the provider, a bare callback is refused, sign-out ends the session', async () => {
    const start = await send('GET', { path: '/' });
    expect(await start.text()).toContain('href="/login"');
    expect((await send('GET', { path: '/' }, { headers: fx.session })).headers.get('location')).toBe('/projects');
    const login = await send('GET', ROUTES['GET /login']!.at(fx));
    expect(new URL(login.headers.get('location')!).searchParams.get('code_challenge_method')).toBe('S256');
    expect(login.headers.get('set-cookie')).toMatch(/stacker_sign_in=.*HttpOnly/);
    expect(await (await send('GET', { path: '/auth/callback' })).text()).toContain('the provider sent neither a code and state nor an error');
    const session = await withDatabase((db) => sessionOf(db, fx.owner));
    const out = await send('POST', { path: '/logout', form: [], headers: session });
    expect(out.status).toBe(303);
    expect(out.headers.get('location')).toBe('/');
    expect((await send('GET', { path: '/projects', headers: session })).status).toBe(303);
  });

  it('a signed-in user gets 404 on another user’s rows (lists of their own, without them), and their forms change nothing', async () => {
    const routes = CASES.filter((route) => route.access === 'user' && route.stranger !== 'acts on their own rows');
    const problems = (
      await inPool(routes, AT_ONCE, async (route) => {
        const target = route.at(fx);
        const expected = route.stranger ?? (paramSegments(route.template).length > 0 ? 404 : 200);
        const response = await send(route.method, target, { headers: fx.strangerSession });
        const what = `stranger ${route.key} (${target.path})`;
        const text = await response.clone().text();
        const found = response.status === expected ? [] : [`${what}: ${response.status}, expected ${expected}`];
        if (text.includes(fx.marker)) found.push(`${what}: shows the owner’s rows`);
        return [...found, ...(await judge(response, what))];
      })
    ).flat();
    expect(problems).toEqual([]);
    expect(routes.length).toBeGreaterThan(20);
    expect(await snapshot(fx)).toEqual(before);
  });

  it('a signed-in user without the admin role gets 403 on every admin page and form, and the forms change nothing', async () => {
    const routes = CASES.filter((route) => route.access === 'admin');
    const problems = (
      await inPool(routes, AT_ONCE, async (route) => {
        const response = await send(route.method, route.at(fx), { headers: fx.strangerSession });
        const what = `non-admin ${route.key}`;
        const text = await response.clone().text();
        const found = response.status === 403 && text.includes('This page is for admins') ? [] : [`${what}: ${response.status}, expected the admins-only 403`];
        return [...found, ...(await judge(response, what))];
      })
    ).flat();
    expect(problems).toEqual([]);
    expect(routes.length).toBeGreaterThanOrEqual(10);
    expect(await snapshot(fx)).toEqual(before);
  });

  it('every form posted from another origin is refused with a 403 page, whatever its content type, and changes nothing', async () => {
    const posts = CASES.filter((route) => route.method === 'POST');
    const bodies = (form: Fields): Array<[string, Body]> => {
      const multipart = new FormData();
      for (const [name, value] of form) multipart.append(name, value);
      return [
        ['urlencoded', urlencoded(form)],
        ['multipart', { body: multipart }],
        ['JSON', { contentType: 'application/json', body: JSON.stringify(Object.fromEntries(form)) }],
      ];
    };
    const problems = (
      await inPool(
        posts.flatMap((route) => bodies(route.at(fx).form ?? []).map(([kind, body]) => ({ route, kind, body }))),
        AT_ONCE,
        async ({ route, kind, body }) => {
          const response = await send('POST', route.at(fx), { headers: ownerSession(route, fx), body, origin: 'https://evil.example' });
          const what = `foreign origin ${route.key} as ${kind}`;
          return [...(response.status === 403 ? [] : [`${what}: ${response.status}, expected 403`]), ...(await judge(response, what, [403]))];
        },
      )
    ).flat();
    expect(problems).toEqual([]);
    expect(posts.length).toBeGreaterThan(25);
    expect(await snapshot(fx)).toEqual(before);
  });

  it('the owner gets every page (200) and every form works (an admin on the admin pages)', async () => {
    const problems: string[] = [];
    // One after another, in the table's order (renew, disable, enable work on one API client).
    await withDatabase(async (db) => {
      for (const route of CASES.filter((r) => r.access !== 'public')) {
        const target = await ownTarget(route, fx, db);
        const what = `owner ${route.key} (${target.path})`;
        if (route.answer?.stream) {
          problems.push(...(await firstEvent(route, target, fx, what)));
          continue;
        }
        const response = await send(route.method, target, { headers: ownerSession(route, fx) });
        if (response.status !== route.ok) problems.push(`${what}: ${response.status}, expected ${route.ok}: ${(await response.clone().text()).slice(0, 300)}`);
        if (route.answer) {
          const type = response.headers.get('content-type') ?? '';
          const text = await response.text();
          if (!route.answer.contentType.test(type) || !text.includes(route.answer.contains)) problems.push(`${what}: ${type} ${text.slice(0, 100)}`);
        } else {
          problems.push(...(await judge(response, what)));
        }
      }
    });
    expect(problems).toEqual([]);
    const after = await snapshot(fx);
    // The forms did what they say (read back through the services).
    expect(after.catalog).toMatchObject({ code: fx.catalogCode, name: `App ${fx.catalogCode}` });
    expect(after.newCatalog).toMatchObject({ code: fx.newCatalogCode });
    expect(after.clients.find((c) => c.id === fx.client.id)).toMatchObject({ enabled: true });
    expect(after.victimClients).toMatchObject([{ id: fx.victim.id, enabled: true }]);
    expect(after.clientSigns).toBe(401); // renewed and re-enabled: the first secret is gone
    expect(after.ratings.find((r) => r.id === fx.ratingId)).toMatchObject({ rate: 7, comment: fx.marker });
    expect(after.servers.length).toBe(before.servers.length + 1);
    expect(after.projects.length).toBeGreaterThan(before.projects.length);
  });
});

// ---- hostile input ----------------------------------------------------------------------------------

const CONTROL = '\u0000\u0001\u0008\u000b\u001b[31m\r\n\u007f\u0085\u2028\u202e\ufeff';

/**
 * Bodies no honest form sends, built from the route's valid form. Every route gets each of the first
 * kinds; of the last three (bodies the form parser cannot read, or files) one per route, in turn by
 * `turn`, so each is sent to a third of the routes and the file stays fast. Each body is built when
 * it is sent (`make`), not with the list: a route's dozen requests would otherwise each build all of
 * its bodies, megabytes of them.
 */
function hostileBodies(form: Fields, turn: number): Array<[string, () => Body]> {
  const fields: Fields = form.length > 0 ? form : [['name', 'value']];
  const first = fields[0]!;
  const multipart = (entries: Array<[string, string | File]>): Body => {
    const data = new FormData();
    for (const [name, value] of entries) data.append(name, value);
    return { body: data };
  };
  const names = [...new Set(fields.map(([name]) => name))];
  return [
    ['an empty body', () => ({ contentType: URLENCODED, body: '' })],
    ['a field 1,000 times', () => urlencoded([...Array.from({ length: 1000 }, () => first), ...fields])],
    ['values (and a name) of 100,000 characters', () => urlencoded([...fields.map(([name], i): [string, string] => [name, i < 4 ? 'x'.repeat(100_000) : 'x']), ['n'.repeat(100_000), 'x']])],
    // One field at a time, the others valid: a field whose check lets a NUL through reaches the database.
    ...names.map((name): [string, () => Body] => [`NUL and control characters in ${name} alone`, () => urlencoded(fields.map(([n, value]) => [n, n === name ? `${value}${CONTROL}` : value]))]),
    ['invalid UTF-8 percent-encoding', () => ({ contentType: URLENCODED, body: [...names.map((name) => `${encodeURIComponent(name)}=%ff%fe%c3%28%80`), '%ff%fe=%e2%82', 'broken=%zz%', '%='].join('&') })],
    ['multipart instead of urlencoded', () => multipart(fields)],
    ['JSON with a form content type', () => ({ contentType: URLENCODED, body: JSON.stringify(Object.fromEntries(fields)) })],
    [
      'unknown fields',
      () => urlencoded([...fields, ['__proto__', 'x'], ['__proto__[polluted]', '1'], ['constructor', 'y'], ['toString', 'z'], ['hasOwnProperty', '1'], ['unknown_field', 'u'], ['a[]', '1'], ['a[b]', '2']]),
    ],
    (
      [
        ['multipart with files for its fields', () => multipart([...names.map((name): [string, File] => [name, new File(['<script>alert(1)</script>'], 'x.html', { type: 'text/html' })]), ...fields])],
        ['a multipart body that is not one', () => ({ contentType: 'multipart/form-data; boundary=----nothing', body: `--x\r\nContent-Disposition: form-data; name="${first[0]}"\r\n\r\nv` })],
        ['a charset nobody knows', () => ({ contentType: `${URLENCODED}; charset=x-unknown-7`, body: new URLSearchParams(fields).toString() })],
      ] as Array<[string, () => Body]>
    )[turn % 3]!,
  ];
}

describe('hostile input to every dashboard route', () => {
  let fx: Fixture;

  beforeAll(async () => {
    fx = await buildFixture();
  });

  // Hundreds of requests, some with 100,000-character values: CPU-bound, so on a loaded 2-core
  // machine (the whole suite) it takes longer than the default 20 s.
  it('every POST answers hostile bodies with a page: never a 5xx, a stack trace or internal text', { timeout: 90_000 }, async () => {
    const posts = CASES.filter((route) => route.method === 'POST');
    const cases = posts.flatMap((route, turn) => hostileBodies(route.at(fx).form ?? [], turn).map((_, index) => ({ route, turn, index })));
    const sent = new Map<string, number>();
    // Side by side: all but a few are refused, and those write the route's valid values.
    const problems = (
      await inPool(cases, AT_ONCE, async ({ route, turn, index }) => {
        // A new row for each request on the routes that use theirs up; the body is built from the
        // target's own form (a fresh row's form names that row).
        const target = route.fresh ? await withDatabase((db) => ownTarget(route, fx, db)) : route.at(fx);
        const [kind, make] = hostileBodies(target.form ?? [], turn)[index]!;
        const response = await send('POST', target, { headers: ownerSession(route, fx), body: make() });
        sent.set(route.key, (sent.get(route.key) ?? 0) + 1);
        return judge(response, `${route.key} (${target.path}) with ${kind}`);
      })
    ).flat();
    expect(problems).toEqual([]);
    // Every POST route got every kind of hostile body, and a NUL in each of its fields.
    expect(posts.filter((route) => (sent.get(route.key) ?? 0) < 9).map((route) => route.key)).toEqual([]);
    expect(cases.length).toBeGreaterThan(posts.length * 9);
  });

  it('a bad path parameter is a 404 page on every route, GET and POST', { timeout: 90_000 }, async () => {
    const NUMBER_LIKE = ['0', 'abc', '1.5', '99999999999', '1%00', '9'.repeat(3000)];
    const TEXT_LIKE = ['%00', '%ff%fe', '..%2F..%2Fetc', 'x'.repeat(3000)];
    const requests = CASES.flatMap((route) =>
      paramSegments(route.template).flatMap(({ name, index }) =>
        (/^id$|Id$/.test(name) ? NUMBER_LIKE : TEXT_LIKE).map((value) => ({ route, target: { ...route.at(fx), path: withParam(route.at(fx).path, index, value) } })),
      ),
    );
    expect(requests.length).toBeGreaterThan(130);
    const problems = (
      await inPool(requests, AT_ONCE, async ({ route, target }) => {
        const response = await send(route.method, target, { headers: ownerSession(route, fx) });
        return judge(response, `${route.key} as ${target.path.slice(0, 120)}`, [404]);
      })
    ).flat();
    expect(problems).toEqual([]);
  });
});
