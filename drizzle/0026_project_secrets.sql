CREATE TABLE "project_secret" (
	"id" serial PRIMARY KEY NOT NULL,
	"project_id" integer NOT NULL,
	"name" varchar(100) NOT NULL,
	"sealed_value" text NOT NULL,
	"generated" boolean DEFAULT true NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "project_secret_project_name_key" UNIQUE("project_id","name")
);
--> statement-breakpoint
ALTER TABLE "catalog_app" ADD COLUMN "template" jsonb DEFAULT '{}'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "project_secret" ADD CONSTRAINT "project_secret_project_fkey" FOREIGN KEY ("project_id") REFERENCES "public"."project"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
-- A project's secrets (issue 28): listed (masked), revealed, set and rotated by the project's owner and
-- the owner's API clients; the service reaches the owner's own projects only (an admin's role adds none).
INSERT INTO "casbin_rule" ("ptype", "v0", "v1", "v2", "v3", "v4", "v5") VALUES
  ('p', 'group_user', '/project/:id/secrets', 'GET', '', '', ''),
  ('p', 'group_user', '/project/:id/secrets/:name', 'GET', '', '', ''),
  ('p', 'group_user', '/project/:id/secrets/:name', 'PUT', '', '', ''),
  ('p', 'group_user', '/project/:id/secrets/:name/rotate', 'POST', '', '', ''),
  ('p', 'client', '/project/:id/secrets', 'GET', '', '', ''),
  ('p', 'client', '/project/:id/secrets/:name', 'GET', '', '', ''),
  ('p', 'client', '/project/:id/secrets/:name', 'PUT', '', '', ''),
  ('p', 'client', '/project/:id/secrets/:name/rotate', 'POST', '', '', '')
ON CONFLICT DO NOTHING;
