CREATE TABLE "agent_enrollment" (
	"secret_hash" varchar(64) PRIMARY KEY NOT NULL,
	"deployment_id" integer NOT NULL,
	"sealed_secret" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"used_at" timestamp with time zone,
	"replaced_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "deployment_operation" (
	"id" serial PRIMARY KEY NOT NULL,
	"deployment_id" integer NOT NULL,
	"kind" varchar(16) NOT NULL,
	"revision" integer,
	"step" varchar(16) NOT NULL,
	"attempt" integer DEFAULT 0 NOT NULL,
	"step_started_at" timestamp with time zone DEFAULT now() NOT NULL,
	"step_deadline_at" timestamp with time zone,
	"wake_at" timestamp with time zone,
	"status" varchar(16) DEFAULT 'running' NOT NULL,
	"failure" text,
	"rollback_to" integer,
	"created_by" varchar(255) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"ended_at" timestamp with time zone,
	CONSTRAINT "chk_operation_kind" CHECK ("deployment_operation"."kind" IN ('deploy', 'redeploy', 'rollback', 'remove')),
	CONSTRAINT "chk_operation_status" CHECK ("deployment_operation"."status" IN ('running', 'completed', 'failed', 'cancelled'))
);
--> statement-breakpoint
CREATE TABLE "deployment_revision" (
	"deployment_id" integer NOT NULL,
	"revision" integer NOT NULL,
	"compose" text NOT NULL,
	"sealed_env" text NOT NULL,
	"services" jsonb NOT NULL,
	"status" varchar(16) DEFAULT 'pending' NOT NULL,
	"message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"applied_at" timestamp with time zone,
	CONSTRAINT "deployment_revision_pkey" PRIMARY KEY("deployment_id","revision"),
	CONSTRAINT "chk_revision_status" CHECK ("deployment_revision"."status" IN ('pending', 'running', 'failed', 'superseded'))
);
--> statement-breakpoint
ALTER TABLE "deployment" ADD COLUMN "engine" varchar(32) DEFAULT 'install-service' NOT NULL;--> statement-breakpoint
ALTER TABLE "deployment" ADD COLUMN "server_id" integer;--> statement-breakpoint
ALTER TABLE "deployment" ADD COLUMN "current_revision" integer;--> statement-breakpoint
ALTER TABLE "agent_enrollment" ADD CONSTRAINT "agent_enrollment_deployment_fkey" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployment"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_operation" ADD CONSTRAINT "deployment_operation_deployment_fkey" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployment"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment_revision" ADD CONSTRAINT "deployment_revision_deployment_fkey" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployment"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_enrollment_deployment" ON "agent_enrollment" USING btree ("deployment_id");--> statement-breakpoint
CREATE UNIQUE INDEX "idx_operation_running" ON "deployment_operation" USING btree ("deployment_id") WHERE "deployment_operation"."status" = 'running';--> statement-breakpoint
CREATE INDEX "idx_operation_wake" ON "deployment_operation" USING btree ("wake_at") WHERE "deployment_operation"."status" = 'running';