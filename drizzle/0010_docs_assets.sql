-- The API reference page's own script (GET /docs loads it), public like the page.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_anonymous', '/docs/rapidoc.js', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
