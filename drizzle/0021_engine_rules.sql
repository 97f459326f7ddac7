-- The built-in deploy engine: a deployment's detail (its owner and the owner's API clients), its
-- operations (the owner; admins inherit user rights), and the install script and enrollment, which
-- anyone may call: the one-time secret in the path is the credential.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/project/:id/deployments/:deployment_id', 'GET', '', '', ''),
  ('p', 'client', '/project/:id/deployments/:deployment_id', 'GET', '', '', ''),
  ('p', 'group_user', '/project/:id/deployments/:deployment_id', 'DELETE', '', '', ''),
  ('p', 'group_user', '/project/:id/deployments/:deployment_id/redeploy', 'POST', '', '', ''),
  ('p', 'group_user', '/project/:id/deployments/:deployment_id/rollback', 'POST', '', '', ''),
  ('p', 'group_user', '/project/:id/deployments/:deployment_id/install-command', 'POST', '', '', ''),
  ('p', 'group_anonymous', '/install/:secret', 'GET', '', '', ''),
  ('p', 'group_anonymous', '/install/:secret/enroll', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
