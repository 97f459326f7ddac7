-- The JSON Schema of stacker.yml, published for editors.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_anonymous', '/schema/stacker.schema.json', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
