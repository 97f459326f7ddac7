CREATE TABLE "api_client_nonce" (
	"client_id" integer NOT NULL,
	"nonce" varchar(64) NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "api_client_nonce_pkey" PRIMARY KEY("client_id","nonce")
);
--> statement-breakpoint
ALTER TABLE "api_client_nonce" ADD CONSTRAINT "fk_api_client_nonce_client" FOREIGN KEY ("client_id") REFERENCES "public"."client"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_api_client_nonce_expires_at" ON "api_client_nonce" USING btree ("expires_at");