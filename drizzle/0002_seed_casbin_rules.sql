-- Casbin rules (model: RBAC with keyMatch2, spec §4): the reference's rows of §4.1, corrected per §4.2, §4.3,
-- §12.6 and §12.7. Each group says what changed and why. v3..v5 are always ''.
-- The same list, in the same order, is db/casbin-seed.ts (casbinSeedRules); keep them in step.
-- ON CONFLICT DO NOTHING (unique_key_sqlx_adapter): re-running cannot duplicate a rule.

-- Role links (spec §4.1/§4.2, corrected).
-- group_admin -> group_user is new: admins get user rights (§12.7). The reference's group_admin -> group_anonymous
-- link is dropped: it is implied through group_user. client -> group_anonymous is new: HMAC API clients
-- authenticate as subject `client` (§12.6) and get what anonymous callers get.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('g', 'anonym', 'group_anonymous', '', '', '', ''),
  ('g', 'agent', 'group_anonymous', '', '', '', ''),
  ('g', 'group_user', 'group_anonymous', '', '', '', ''),
  ('g', 'user', 'group_user', '', '', '', ''),
  ('g', 'client', 'group_anonymous', '', '', '', ''),
  ('g', 'group_admin', 'group_user', '', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_anonymous (so every subject): as the reference (§4.1 rows 5-7, 58).
-- Anonymous agent registration is kept as the reference; the register handler must guard it (§12.2).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_anonymous', '/health_check', 'GET', '', '', ''),
  ('p', 'group_anonymous', '/rating/:id', 'GET', '', '', ''),
  ('p', 'group_anonymous', '/rating', 'GET', '', '', ''),
  ('p', 'group_anonymous', '/api/v1/agent/register', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_user: API clients. POST /client is new for group_user: users create their own API clients, the
-- reference let only admins create them while only users could manage them (§12.7).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/client', 'POST', '', '', ''),
  ('p', 'group_user', '/client/:id/enable', 'PUT', '', '', ''),
  ('p', 'group_user', '/client/:id', 'PUT', '', '', ''),
  ('p', 'group_user', '/client/:id/disable', 'PUT', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_user: ratings. GET /rating and GET /rating/:id (rows 18-19) dropped: redundant, inherited from
-- group_anonymous (§4.3).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/rating', 'POST', '', '', ''),
  ('p', 'group_user', '/rating/:id', 'PUT', '', '', ''),
  ('p', 'group_user', '/rating/:id', 'DELETE', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_user: projects and deploy. POST /project/:id and POST /project/:id/compose (rows 24, 28) dropped:
-- no handler (§4.3).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/project', 'GET', '', '', ''),
  ('p', 'group_user', '/project', 'POST', '', '', ''),
  ('p', 'group_user', '/project/:id', 'GET', '', '', ''),
  ('p', 'group_user', '/project/:id', 'PUT', '', '', ''),
  ('p', 'group_user', '/project/:id', 'DELETE', '', '', ''),
  ('p', 'group_user', '/project/:id/compose', 'GET', '', '', ''),
  ('p', 'group_user', '/project/:id/deploy', 'POST', '', '', ''),
  ('p', 'group_user', '/project/:id/deploy/:cloud_id', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_user: servers. POST /server (row 32) dropped: no handler (§4.3). DELETE /server/:id is new: the
-- handler existed with no rule (§4.3, §12.7).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/server', 'GET', '', '', ''),
  ('p', 'group_user', '/server/:id', 'GET', '', '', ''),
  ('p', 'group_user', '/server/:id', 'PUT', '', '', ''),
  ('p', 'group_user', '/server/:id', 'DELETE', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_user: clouds, as the reference.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/cloud', 'GET', '', '', ''),
  ('p', 'group_user', '/cloud', 'POST', '', '', ''),
  ('p', 'group_user', '/cloud/:id', 'GET', '', '', ''),
  ('p', 'group_user', '/cloud/:id', 'PUT', '', '', ''),
  ('p', 'group_user', '/cloud/:id', 'DELETE', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_user: agreements. GET /agreement (row 46) dropped: no handler (§4.3).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/agreement/:id', 'GET', '', '', ''),
  ('p', 'group_user', '/agreement', 'POST', '', '', ''),
  ('p', 'group_user', '/agreement/accepted/:id', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_user: commands, as the reference. group_user's rules on the agent-only endpoints
-- /api/v1/agent/commands/wait/:deployment_hash and /api/v1/agent/commands/report (rows 74, 77) dropped: users
-- got a 500 there, the handlers need an agent (§4.3, §12.7). POST /api/v1/agent/register (row 59)
-- dropped: redundant, inherited from group_anonymous.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/api/v1/commands', 'POST', '', '', ''),
  ('p', 'group_user', '/api/v1/commands/:deployment_hash', 'GET', '', '', ''),
  ('p', 'group_user', '/api/v1/commands/:deployment_hash/:command_id', 'GET', '', '', ''),
  ('p', 'group_user', '/api/v1/commands/:deployment_hash/:command_id/cancel', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- group_admin: admin-only routes; everything of group_user is now inherited.
-- Dropped as redundant (inherited): POST /client (row 8), GET /rating and /rating/:id (rows 9, 14),
-- GET /agreement/:id (row 49), POST /api/v1/agent/register (row 60), the four /api/v1/commands rules
-- (rows 67-70). Dropped, no handler (§4.3): GET /agreement (row 48), POST and DELETE /admin/agreement/:id
-- (rows 52, 54). Dropped, agent-only endpoints (rows 75, 78). GET /admin/project/:id/compose is new: the
-- handler existed with no rule (§4.3, §12.7).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_admin', '/admin/client/:id/disable', 'PUT', '', '', ''),
  ('p', 'group_admin', '/admin/client/:id/enable', 'PUT', '', '', ''),
  ('p', 'group_admin', '/admin/client/:id', 'PUT', '', '', ''),
  ('p', 'group_admin', '/admin/project/user/:userid', 'GET', '', '', ''),
  ('p', 'group_admin', '/admin/project/:id/compose', 'GET', '', '', ''),
  ('p', 'group_admin', '/admin/rating/:id', 'PUT', '', '', ''),
  ('p', 'group_admin', '/admin/rating/:id', 'DELETE', '', '', ''),
  ('p', 'group_admin', '/admin/rating/:id', 'GET', '', '', ''),
  ('p', 'group_admin', '/admin/rating', 'GET', '', '', ''),
  ('p', 'group_admin', '/admin/agreement', 'POST', '', '', ''),
  ('p', 'group_admin', '/admin/agreement/:id', 'GET', '', '', ''),
  ('p', 'group_admin', '/admin/agreement/:id', 'PUT', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- agent: the agent-only endpoints, as the reference (rows 61-62). Only subject `agent` reaches them.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'agent', '/api/v1/agent/commands/wait/:deployment_hash', 'GET', '', '', ''),
  ('p', 'agent', '/api/v1/agent/commands/report', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
--> statement-breakpoint
-- client: HMAC API clients (§12.6: the reference's `client` rules were dead, no request got that subject).
-- Clients act for the user who owns them; ownership is checked in the services. Dropped: client's rules on
-- the agent-only endpoints (rows 76, 79). POST /test/deploy is new (handler had no rule, §4.3).
-- GET /admin/project/user/:userid is deliberately not given. POST /api/v1/agent/register is also
-- inherited from group_anonymous; it is listed to keep the client surface in one place.
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'client', '/test/deploy', 'POST', '', '', ''),
  ('p', 'client', '/api/v1/agent/register', 'POST', '', '', ''),
  ('p', 'client', '/project', 'GET', '', '', ''),
  ('p', 'client', '/project/:id', 'GET', '', '', ''),
  ('p', 'client', '/project/:id/compose', 'GET', '', '', ''),
  ('p', 'client', '/cloud', 'GET', '', '', ''),
  ('p', 'client', '/cloud/:id', 'GET', '', '', ''),
  ('p', 'client', '/server', 'GET', '', '', ''),
  ('p', 'client', '/server/:id', 'GET', '', '', ''),
  ('p', 'client', '/api/v1/commands/:deployment_hash', 'GET', '', '', ''),
  ('p', 'client', '/api/v1/commands/:deployment_hash/:command_id', 'GET', '', '', ''),
  ('p', 'client', '/api/v1/commands', 'POST', '', '', ''),
  ('p', 'client', '/agreement/:id', 'GET', '', '', '')
ON CONFLICT DO NOTHING;
