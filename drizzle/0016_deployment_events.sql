CREATE TABLE "deployment_event" (
	"deployment_id" integer NOT NULL,
	"seq" integer NOT NULL,
	"at" timestamp with time zone DEFAULT now() NOT NULL,
	"kind" varchar(32) NOT NULL,
	"status" varchar(32),
	"progress" integer,
	"message" text,
	"subject" varchar(200),
	CONSTRAINT "deployment_event_pkey" PRIMARY KEY("deployment_id","seq")
);
--> statement-breakpoint
ALTER TABLE "deployment" ADD COLUMN "event_seq" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "deployment_event" ADD CONSTRAINT "deployment_event_deployment_fkey" FOREIGN KEY ("deployment_id") REFERENCES "public"."deployment"("id") ON DELETE cascade ON UPDATE no action;