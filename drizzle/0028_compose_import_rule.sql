-- A compose file imported as a project form, or as a project (POST /project/import, issue 28): its
-- owner, as for POST /project; API clients only read projects, so not theirs.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/project/import', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
