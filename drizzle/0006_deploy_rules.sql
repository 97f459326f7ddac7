-- Following deployments (owner, admins; read-only for the owner's API clients) and cancelling them.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/project/deploy/status', 'GET', '', '', ''),
  ('p', 'group_user', '/project/:id/deployments', 'GET', '', '', ''),
  ('p', 'group_user', '/project/:id/deployments/:deployment_id/cancel', 'POST', '', '', ''),
  ('p', 'client', '/project/deploy/status', 'GET', '', '', ''),
  ('p', 'client', '/project/:id/deployments', 'GET', '', '', ''),
  -- Install service callbacks carry no user: their signature is checked by the route.
  ('p', 'group_anonymous', '/webhooks/install', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
