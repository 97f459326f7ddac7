-- A deployment's event log: its owner (and admins, who inherit user rights) and the owner's API clients.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/project/:id/deployments/:deployment_id/events', 'GET', '', '', ''),
  ('p', 'client', '/project/:id/deployments/:deployment_id/events', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
