-- The API document is public: every subject may read it.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5")
VALUES ('p', 'group_anonymous', '/openapi.json', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
