ALTER TABLE "deployment" ADD COLUMN "cloud_id" integer;--> statement-breakpoint
ALTER TABLE "deployment" ADD COLUMN "public_origin" varchar(255);--> statement-breakpoint
ALTER TABLE "server" ADD COLUMN "provider" varchar(50);--> statement-breakpoint
ALTER TABLE "server" ADD COLUMN "provider_server_id" varchar(64);--> statement-breakpoint
ALTER TABLE "server" ADD COLUMN "deleted_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "server" ADD COLUMN "kept_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "server" ADD COLUMN "delete_error" text;