CREATE TYPE "public"."rate_category" AS ENUM('application', 'cloud', 'project', 'deploymentSpeed', 'documentation', 'design', 'techSupport', 'price', 'memoryUsage');--> statement-breakpoint
CREATE TABLE "agents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"deployment_hash" varchar(64) NOT NULL,
	"capabilities" jsonb DEFAULT '[]'::jsonb,
	"version" varchar(50),
	"system_info" jsonb DEFAULT '{}'::jsonb,
	"last_heartbeat" timestamp with time zone,
	"status" varchar(50) DEFAULT 'offline',
	"created_at" timestamp with time zone DEFAULT now(),
	"updated_at" timestamp with time zone DEFAULT now(),
	"token_hash" varchar(64),
	"token_rotated_at" timestamp with time zone,
	"previous_token_hash" varchar(64),
	"previous_token_expires_at" timestamp with time zone,
	CONSTRAINT "agents_deployment_hash_key" UNIQUE("deployment_hash"),
	CONSTRAINT "chk_agent_status" CHECK ("agents"."status" IN ('online', 'offline', 'degraded'))
);
--> statement-breakpoint
CREATE TABLE "agreement" (
	"id" serial PRIMARY KEY NOT NULL,
	"name" varchar(255) NOT NULL,
	"text" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "audit_log" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"agent_id" uuid,
	"deployment_hash" varchar(64),
	"action" varchar(100) NOT NULL,
	"status" varchar(50),
	"details" jsonb DEFAULT '{}'::jsonb,
	"ip_address" "inet",
	"user_agent" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "casbin_rule" (
	"id" serial PRIMARY KEY NOT NULL,
	"ptype" varchar NOT NULL,
	"v0" varchar NOT NULL,
	"v1" varchar NOT NULL,
	"v2" varchar NOT NULL,
	"v3" varchar NOT NULL,
	"v4" varchar NOT NULL,
	"v5" varchar NOT NULL,
	CONSTRAINT "unique_key_sqlx_adapter" UNIQUE("ptype","v0","v1","v2","v3","v4","v5")
);
--> statement-breakpoint
CREATE TABLE "client" (
	"id" serial PRIMARY KEY NOT NULL,
	"user_id" varchar(50) NOT NULL,
	"secret" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "client_secret_unique" UNIQUE("secret")
);
--> statement-breakpoint
CREATE TABLE "cloud" (
	"id" serial NOT NULL,
	"user_id" varchar(50) NOT NULL,
	"provider" varchar(50) NOT NULL,
	"cloud_token" text,
	"cloud_key" text,
	"cloud_secret" text,
	"save_token" boolean DEFAULT false,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "user_cloud_pkey" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "command_queue" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"command_id" varchar(64) NOT NULL,
	"deployment_hash" varchar(64) NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "commands" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"command_id" varchar(64) NOT NULL,
	"deployment_hash" varchar(64) NOT NULL,
	"type" varchar(100) NOT NULL,
	"status" varchar(50) DEFAULT 'queued' NOT NULL,
	"priority" varchar(20) DEFAULT 'normal' NOT NULL,
	"parameters" jsonb DEFAULT '{}'::jsonb,
	"result" jsonb,
	"error" jsonb,
	"created_by" varchar(255) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"scheduled_for" timestamp with time zone,
	"sent_at" timestamp with time zone,
	"started_at" timestamp with time zone,
	"completed_at" timestamp with time zone,
	"timeout_seconds" integer DEFAULT 300,
	"metadata" jsonb DEFAULT '{}'::jsonb,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "commands_command_id_key" UNIQUE("command_id"),
	CONSTRAINT "chk_command_status" CHECK ("commands"."status" IN ('queued', 'sent', 'executing', 'completed', 'failed', 'cancelled')),
	CONSTRAINT "chk_command_priority" CHECK ("commands"."priority" IN ('low', 'normal', 'high', 'critical'))
);
--> statement-breakpoint
CREATE TABLE "deployment" (
	"id" serial PRIMARY KEY NOT NULL,
	"project_id" integer NOT NULL,
	"metadata" json NOT NULL,
	"deleted" boolean DEFAULT false,
	"status" varchar(32) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"deployment_hash" varchar(64) NOT NULL,
	"last_seen_at" timestamp with time zone,
	"user_id" varchar(255),
	"deadline_at" timestamp with time zone,
	"progress" integer,
	"message" text,
	CONSTRAINT "deployment_deployment_hash_key" UNIQUE("deployment_hash")
);
--> statement-breakpoint
CREATE TABLE "product" (
	"id" integer PRIMARY KEY NOT NULL,
	"obj_id" integer NOT NULL,
	"obj_type" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "project" (
	"id" serial PRIMARY KEY NOT NULL,
	"stack_id" uuid NOT NULL,
	"user_id" varchar(50) NOT NULL,
	"name" text NOT NULL,
	"metadata" json NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"request_json" json DEFAULT '{}'::json NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rating" (
	"id" serial NOT NULL,
	"user_id" varchar(50) NOT NULL,
	"obj_id" integer NOT NULL,
	"category" "rate_category" NOT NULL,
	"comment" text,
	"hidden" boolean DEFAULT false,
	"rate" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rating_pk" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "server" (
	"id" serial NOT NULL,
	"user_id" varchar(50) NOT NULL,
	"project_id" integer NOT NULL,
	"region" varchar(50),
	"zone" varchar(50),
	"server" varchar(255),
	"os" varchar(100),
	"disk_type" varchar(100),
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"srv_ip" varchar(50),
	"ssh_user" varchar(50),
	"ssh_port" integer,
	CONSTRAINT "user_server_pkey" PRIMARY KEY("id")
);
--> statement-breakpoint
CREATE TABLE "user_agreement" (
	"id" serial PRIMARY KEY NOT NULL,
	"agrt_id" integer NOT NULL,
	"user_id" varchar(50) NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "agents" ADD CONSTRAINT "agents_deployment_hash_fkey" FOREIGN KEY ("deployment_hash") REFERENCES "public"."deployment"("deployment_hash") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_log" ADD CONSTRAINT "audit_log_agent_id_fkey" FOREIGN KEY ("agent_id") REFERENCES "public"."agents"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "command_queue" ADD CONSTRAINT "command_queue_command_id_fkey" FOREIGN KEY ("command_id") REFERENCES "public"."commands"("command_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "commands" ADD CONSTRAINT "commands_deployment_hash_fkey" FOREIGN KEY ("deployment_hash") REFERENCES "public"."deployment"("deployment_hash") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "deployment" ADD CONSTRAINT "fk_project" FOREIGN KEY ("project_id") REFERENCES "public"."project"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rating" ADD CONSTRAINT "fk_product" FOREIGN KEY ("obj_id") REFERENCES "public"."product"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "server" ADD CONSTRAINT "fk_server_project" FOREIGN KEY ("project_id") REFERENCES "public"."project"("id") ON DELETE cascade ON UPDATE cascade;--> statement-breakpoint
ALTER TABLE "user_agreement" ADD CONSTRAINT "fk_agreement" FOREIGN KEY ("agrt_id") REFERENCES "public"."agreement"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_agents_deployment_hash" ON "agents" USING btree ("deployment_hash");--> statement-breakpoint
CREATE INDEX "idx_agents_status" ON "agents" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_agents_last_heartbeat" ON "agents" USING btree ("last_heartbeat");--> statement-breakpoint
CREATE INDEX "idx_agreement_name" ON "agreement" USING btree ("name");--> statement-breakpoint
CREATE INDEX "idx_audit_log_agent_id" ON "audit_log" USING btree ("agent_id");--> statement-breakpoint
CREATE INDEX "idx_audit_log_deployment_hash" ON "audit_log" USING btree ("deployment_hash");--> statement-breakpoint
CREATE INDEX "idx_audit_log_action" ON "audit_log" USING btree ("action");--> statement-breakpoint
CREATE INDEX "idx_audit_log_created_at" ON "audit_log" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_deployment_user_cloud_user_id" ON "cloud" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_queue_deployment" ON "command_queue" USING btree ("deployment_hash","priority" DESC NULLS FIRST,"created_at");--> statement-breakpoint
CREATE INDEX "idx_queue_command_id" ON "command_queue" USING btree ("command_id");--> statement-breakpoint
CREATE INDEX "idx_commands_deployment_hash" ON "commands" USING btree ("deployment_hash");--> statement-breakpoint
CREATE INDEX "idx_commands_status" ON "commands" USING btree ("status");--> statement-breakpoint
CREATE INDEX "idx_commands_created_by" ON "commands" USING btree ("created_by");--> statement-breakpoint
CREATE INDEX "idx_commands_created_at" ON "commands" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "idx_commands_command_id" ON "commands" USING btree ("command_id");--> statement-breakpoint
CREATE INDEX "idx_deployment_project_id" ON "deployment" USING btree ("project_id");--> statement-breakpoint
CREATE INDEX "idx_deployment_hash" ON "deployment" USING btree ("deployment_hash");--> statement-breakpoint
CREATE INDEX "idx_deployment_user_id" ON "deployment" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_project_stack_id" ON "project" USING btree ("stack_id");--> statement-breakpoint
CREATE INDEX "idx_project_user_id" ON "project" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_project_name" ON "project" USING btree ("name");--> statement-breakpoint
CREATE INDEX "idx_category" ON "rating" USING btree ("category");--> statement-breakpoint
CREATE INDEX "idx_user_id" ON "rating" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_obj_id_rating_id" ON "rating" USING btree ("obj_id","rate");--> statement-breakpoint
CREATE INDEX "idx_server_user_id" ON "server" USING btree ("user_id");--> statement-breakpoint
CREATE INDEX "idx_server_project_id" ON "server" USING btree ("project_id");--> statement-breakpoint
CREATE INDEX "idx_user_agreement_user_id" ON "user_agreement" USING btree ("user_id");--> statement-breakpoint
CREATE UNIQUE INDEX "idx_user_agreement_user_id_agrt_id" ON "user_agreement" USING btree ("user_id","agrt_id");