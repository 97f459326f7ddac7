ALTER TABLE "dashboard_session" ADD COLUMN "access_token" text;--> statement-breakpoint
ALTER TABLE "dashboard_session" ADD COLUMN "refresh_token" text;--> statement-breakpoint
ALTER TABLE "dashboard_session" ADD COLUMN "checked_at" timestamp with time zone DEFAULT now() NOT NULL;