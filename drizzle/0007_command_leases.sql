CREATE TABLE "agent_request_id" (
	"agent_id" uuid NOT NULL,
	"request_id" varchar(128) NOT NULL,
	"seen_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "agent_request_id_pkey" PRIMARY KEY("agent_id","request_id")
);
--> statement-breakpoint
CREATE TABLE "app_status" (
	"deployment_hash" varchar(64) NOT NULL,
	"app_code" varchar(100) NOT NULL,
	"status" varchar(32) NOT NULL,
	"logs" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"reported_at" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "app_status_pkey" PRIMARY KEY("deployment_hash","app_code")
);
--> statement-breakpoint
ALTER TABLE "commands" DROP CONSTRAINT "chk_command_status";--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "priority_rank" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "attempts" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "max_attempts" integer DEFAULT 3 NOT NULL;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "lease_expires_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "commands" ADD COLUMN "idempotency_key" varchar(128);--> statement-breakpoint
ALTER TABLE "agent_request_id" ADD CONSTRAINT "fk_agent_request_id_agent" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "app_status" ADD CONSTRAINT "fk_app_status_deployment" FOREIGN KEY ("deployment_hash") REFERENCES "public"."deployment"("deployment_hash") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_agent_request_id_seen_at" ON "agent_request_id" USING btree ("seen_at");--> statement-breakpoint
CREATE INDEX "idx_commands_claim" ON "commands" USING btree ("deployment_hash","priority_rank" DESC NULLS LAST,"created_at") WHERE "commands"."status" = 'queued';--> statement-breakpoint
CREATE INDEX "idx_commands_lease" ON "commands" USING btree ("lease_expires_at") WHERE "commands"."status" = 'sent';--> statement-breakpoint
CREATE UNIQUE INDEX "idx_commands_idempotency" ON "commands" USING btree ("deployment_hash","created_by","idempotency_key") WHERE "commands"."idempotency_key" is not null;--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "chk_command_status" CHECK ("commands"."status" IN ('queued', 'sent', 'executing', 'completed', 'failed', 'cancelled', 'expired'));