-- The `stacker` command line: how to sign in (public) and the app catalog (users and their API clients).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_anonymous', '/auth/config', 'GET', '', '', ''),
  ('p', 'group_user', '/catalog', 'GET', '', '', ''),
  ('p', 'client', '/catalog', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
