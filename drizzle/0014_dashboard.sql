CREATE TABLE "catalog_app" (
	"id" serial PRIMARY KEY NOT NULL,
	"code" varchar(50) NOT NULL,
	"name" varchar(50) NOT NULL,
	"category" varchar(50) NOT NULL,
	"description" text DEFAULT '' NOT NULL,
	"image" varchar(100) NOT NULL,
	"tag" varchar(100) DEFAULT 'latest' NOT NULL,
	"ports" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"environment" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"volumes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "catalog_app_code_unique" UNIQUE("code")
);
--> statement-breakpoint
CREATE TABLE "dashboard_session" (
	"token_hash" varchar(64) PRIMARY KEY NOT NULL,
	"user_id" varchar(50) NOT NULL,
	"role" varchar(50) NOT NULL,
	"email" text DEFAULT '' NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "idx_dashboard_session_expires" ON "dashboard_session" USING btree ("expires_at");