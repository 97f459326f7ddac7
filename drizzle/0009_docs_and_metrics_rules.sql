-- The browsable API reference is public; the operators' counters are for admins.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_anonymous', '/docs', 'GET', '', '', ''),
  ('p', 'group_admin', '/admin/metrics', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
