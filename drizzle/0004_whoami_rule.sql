-- GET /whoami tells any caller who its credentials belong to.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5")
VALUES ('p', 'group_anonymous', '/whoami', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
