-- What a saved cloud key can create (GET /cloud/{id}/offers): its owner and the owner's API clients,
-- as for GET /cloud/{id}.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/cloud/:id/offers', 'GET', '', '', ''),
  ('p', 'client', '/cloud/:id/offers', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
