// The casbin rules seeded by drizzle/0002_seed_casbin_rules.sql and later migrations, in order, as data, so tests and the console can
// compare the `casbin_rule` table against them. Keep the two in the same order and in step.
//
// Source: the reference's rows (spec/reference-api.md §4.1), corrected per §4.2, §4.3 and §12.6/§12.7.
// Each row is [ptype, v0, v1, v2]; v3..v5 are always ''. For `g` rows v0 inherits v1 and v2 is ''.

export type CasbinPtype = 'p' | 'g';
export type CasbinSeedRule = readonly [ptype: CasbinPtype, v0: string, v1: string, v2: string];

export const casbinSeedRules: ReadonlyArray<CasbinSeedRule> = [
  // Role links. group_admin now inherits group_user (§12.7: admins get user rights); its old direct link
  // to group_anonymous is implied through group_user. `client` (HMAC API clients, §12.6) gets a role link.
  ['g', 'anonym', 'group_anonymous', ''],
  ['g', 'agent', 'group_anonymous', ''],
  ['g', 'group_user', 'group_anonymous', ''],
  ['g', 'user', 'group_user', ''],
  ['g', 'client', 'group_anonymous', ''],
  ['g', 'group_admin', 'group_user', ''],

  // group_anonymous (so everyone): as the reference.
  ['p', 'group_anonymous', '/health_check', 'GET'],
  ['p', 'group_anonymous', '/rating/:id', 'GET'],
  ['p', 'group_anonymous', '/rating', 'GET'],
  ['p', 'group_anonymous', '/api/v1/agent/register', 'POST'],

  // group_user: API clients. POST /client added (§12.7: users create their own API clients).
  ['p', 'group_user', '/client', 'POST'],
  ['p', 'group_user', '/client/:id/enable', 'PUT'],
  ['p', 'group_user', '/client/:id', 'PUT'],
  ['p', 'group_user', '/client/:id/disable', 'PUT'],

  // group_user: ratings (reads come from group_anonymous).
  ['p', 'group_user', '/rating', 'POST'],
  ['p', 'group_user', '/rating/:id', 'PUT'],
  ['p', 'group_user', '/rating/:id', 'DELETE'],

  // group_user: projects and deploy (POST /project/:id and POST /project/:id/compose dropped: no handler).
  ['p', 'group_user', '/project', 'GET'],
  ['p', 'group_user', '/project', 'POST'],
  ['p', 'group_user', '/project/:id', 'GET'],
  ['p', 'group_user', '/project/:id', 'PUT'],
  ['p', 'group_user', '/project/:id', 'DELETE'],
  ['p', 'group_user', '/project/:id/compose', 'GET'],
  ['p', 'group_user', '/project/:id/deploy', 'POST'],
  ['p', 'group_user', '/project/:id/deploy/:cloud_id', 'POST'],

  // group_user: servers (POST /server dropped: no handler; DELETE /server/:id added: handler had no rule).
  ['p', 'group_user', '/server', 'GET'],
  ['p', 'group_user', '/server/:id', 'GET'],
  ['p', 'group_user', '/server/:id', 'PUT'],
  ['p', 'group_user', '/server/:id', 'DELETE'],

  // group_user: clouds, as the reference.
  ['p', 'group_user', '/cloud', 'GET'],
  ['p', 'group_user', '/cloud', 'POST'],
  ['p', 'group_user', '/cloud/:id', 'GET'],
  ['p', 'group_user', '/cloud/:id', 'PUT'],
  ['p', 'group_user', '/cloud/:id', 'DELETE'],

  // group_user: agreements (GET /agreement dropped: no handler).
  ['p', 'group_user', '/agreement/:id', 'GET'],
  ['p', 'group_user', '/agreement', 'POST'],
  ['p', 'group_user', '/agreement/accepted/:id', 'GET'],

  // group_user: commands, as the reference.
  ['p', 'group_user', '/api/v1/commands', 'POST'],
  ['p', 'group_user', '/api/v1/commands/:deployment_hash', 'GET'],
  ['p', 'group_user', '/api/v1/commands/:deployment_hash/:command_id', 'GET'],
  ['p', 'group_user', '/api/v1/commands/:deployment_hash/:command_id/cancel', 'POST'],

  // group_admin: admin-only routes (everything of group_user is inherited).
  ['p', 'group_admin', '/admin/client/:id/disable', 'PUT'],
  ['p', 'group_admin', '/admin/client/:id/enable', 'PUT'],
  ['p', 'group_admin', '/admin/client/:id', 'PUT'],
  ['p', 'group_admin', '/admin/project/user/:userid', 'GET'],
  ['p', 'group_admin', '/admin/project/:id/compose', 'GET'],
  ['p', 'group_admin', '/admin/rating/:id', 'PUT'],
  ['p', 'group_admin', '/admin/rating/:id', 'DELETE'],
  ['p', 'group_admin', '/admin/rating/:id', 'GET'],
  ['p', 'group_admin', '/admin/rating', 'GET'],
  ['p', 'group_admin', '/admin/agreement', 'POST'],
  ['p', 'group_admin', '/admin/agreement/:id', 'GET'],
  ['p', 'group_admin', '/admin/agreement/:id', 'PUT'],

  // agent: the agent-only endpoints; no other subject reaches them.
  ['p', 'agent', '/api/v1/agent/commands/wait/:deployment_hash', 'GET'],
  ['p', 'agent', '/api/v1/agent/commands/report', 'POST'],

  // client (HMAC API clients act for the user who owns them; ownership is checked in services).
  ['p', 'client', '/test/deploy', 'POST'],
  ['p', 'client', '/api/v1/agent/register', 'POST'],
  ['p', 'client', '/project', 'GET'],
  ['p', 'client', '/project/:id', 'GET'],
  ['p', 'client', '/project/:id/compose', 'GET'],
  ['p', 'client', '/cloud', 'GET'],
  ['p', 'client', '/cloud/:id', 'GET'],
  ['p', 'client', '/server', 'GET'],
  ['p', 'client', '/server/:id', 'GET'],
  ['p', 'client', '/api/v1/commands/:deployment_hash', 'GET'],
  ['p', 'client', '/api/v1/commands/:deployment_hash/:command_id', 'GET'],
  ['p', 'client', '/api/v1/commands', 'POST'],
  ['p', 'client', '/agreement/:id', 'GET'],

  // drizzle/0003_public_documents.sql: the API document is public.
  ['p', 'group_anonymous', '/openapi.json', 'GET'],

  // drizzle/0004_whoami_rule.sql: anyone may ask who their credentials belong to.
  ['p', 'group_anonymous', '/whoami', 'GET'],

  // drizzle/0006_deploy_rules.sql: following and cancelling deployments; install service callbacks.
  ['p', 'group_user', '/project/deploy/status', 'GET'],
  ['p', 'group_user', '/project/:id/deployments', 'GET'],
  ['p', 'group_user', '/project/:id/deployments/:deployment_id/cancel', 'POST'],
  ['p', 'client', '/project/deploy/status', 'GET'],
  ['p', 'client', '/project/:id/deployments', 'GET'],
  ['p', 'group_anonymous', '/webhooks/install', 'POST'],

  // drizzle/0008_agent_rules.sql: app status from agents, the agent of a deployment for its owner, token rotation.
  ['p', 'agent', '/api/v1/apps/status', 'POST'],
  ['p', 'group_user', '/api/v1/deployments/:deployment_hash/agent', 'GET'],
  ['p', 'client', '/api/v1/deployments/:deployment_hash/agent', 'GET'],
  ['p', 'group_admin', '/admin/agent/:deployment_hash/rotate-token', 'POST'],

  // drizzle/0009_docs_and_metrics_rules.sql: the API reference page, the operators' counters.
  ['p', 'group_anonymous', '/docs', 'GET'],
  ['p', 'group_admin', '/admin/metrics', 'GET'],

  // drizzle/0010_docs_assets.sql: the API reference page's script.
  ['p', 'group_anonymous', '/docs/rapidoc.js', 'GET'],

  // drizzle/0017_event_rules.sql: a deployment's event log.
  ['p', 'group_user', '/project/:id/deployments/:deployment_id/events', 'GET'],
  ['p', 'client', '/project/:id/deployments/:deployment_id/events', 'GET'],

  // drizzle/0018_cli_rules.sql: the command line's sign-in settings (public) and the app catalog.
  ['p', 'group_anonymous', '/auth/config', 'GET'],
  ['p', 'group_user', '/catalog', 'GET'],
  ['p', 'client', '/catalog', 'GET'],

  // drizzle/0019_schema_rule.sql: the JSON Schema of stacker.yml.
  ['p', 'group_anonymous', '/schema/stacker.schema.json', 'GET'],

  // drizzle/0021_engine_rules.sql: the built-in engine's deployment detail and operations, the install script and enrollment.
  ['p', 'group_user', '/project/:id/deployments/:deployment_id', 'GET'],
  ['p', 'client', '/project/:id/deployments/:deployment_id', 'GET'],
  ['p', 'group_user', '/project/:id/deployments/:deployment_id', 'DELETE'],
  ['p', 'group_user', '/project/:id/deployments/:deployment_id/redeploy', 'POST'],
  ['p', 'group_user', '/project/:id/deployments/:deployment_id/rollback', 'POST'],
  ['p', 'group_user', '/project/:id/deployments/:deployment_id/install-command', 'POST'],
  ['p', 'group_anonymous', '/install/:secret', 'GET'],
  ['p', 'group_anonymous', '/install/:secret/enroll', 'POST'],

  // drizzle/0023_cloud_offers_rules.sql: what a saved cloud key can create.
  ['p', 'group_user', '/cloud/:id/offers', 'GET'],
  ['p', 'client', '/cloud/:id/offers', 'GET'],

  // drizzle/0026_project_secrets.sql: a project's secrets (list, reveal, set, rotate), its owner and the owner's clients.
  ['p', 'group_user', '/project/:id/secrets', 'GET'],
  ['p', 'group_user', '/project/:id/secrets/:name', 'GET'],
  ['p', 'group_user', '/project/:id/secrets/:name', 'PUT'],
  ['p', 'group_user', '/project/:id/secrets/:name/rotate', 'POST'],
  ['p', 'client', '/project/:id/secrets', 'GET'],
  ['p', 'client', '/project/:id/secrets/:name', 'GET'],
  ['p', 'client', '/project/:id/secrets/:name', 'PUT'],
  ['p', 'client', '/project/:id/secrets/:name/rotate', 'POST'],

  // drizzle/0028_compose_import_rule.sql: a compose file imported as a project form or project, its owner.
  ['p', 'group_user', '/project/import', 'POST'],
];
