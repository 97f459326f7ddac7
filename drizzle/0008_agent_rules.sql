-- Agents post their apps' status; owners read their deployment's agent (liveness, app statuses);
-- admins rotate an agent's token.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'agent', '/api/v1/apps/status', 'POST', '', '', ''),
  ('p', 'group_user', '/api/v1/deployments/:deployment_hash/agent', 'GET', '', '', ''),
  ('p', 'client', '/api/v1/deployments/:deployment_hash/agent', 'GET', '', '', ''),
  ('p', 'group_admin', '/admin/agent/:deployment_hash/rotate-token', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
