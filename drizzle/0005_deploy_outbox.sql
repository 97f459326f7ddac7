CREATE TABLE "deploy_outbox" (
	"id" serial PRIMARY KEY NOT NULL,
	"deployment_id" integer NOT NULL,
	"kind" varchar(16) NOT NULL,
	"deduplication_id" varchar(128) NOT NULL,
	"payload_sealed" text NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone DEFAULT now() NOT NULL,
	"published_at" timestamp with time zone,
	"message_id" varchar(200),
	"last_error" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "deploy_outbox_deduplication_id_key" UNIQUE("deduplication_id"),
	CONSTRAINT "chk_deploy_outbox_kind" CHECK ("deploy_outbox"."kind" in ('deploy', 'cancel'))
);
--> statement-breakpoint
CREATE TABLE "webhook_receipt" (
	"message_id" varchar(200) PRIMARY KEY NOT NULL,
	"deployment_id" integer NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "deploy_outbox" ADD CONSTRAINT "fk_deploy_outbox_deployment" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployment"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_receipt" ADD CONSTRAINT "fk_webhook_receipt_deployment" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployment"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_deploy_outbox_pending" ON "deploy_outbox" USING btree ("next_attempt_at") WHERE "deploy_outbox"."published_at" is null;