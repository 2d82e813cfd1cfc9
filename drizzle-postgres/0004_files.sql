CREATE TABLE "files" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"filename" text NOT NULL,
	"purpose" text NOT NULL,
	"bytes" bigint NOT NULL,
	"created_at_ms" bigint NOT NULL,
	"content" "bytea" NOT NULL,
	CONSTRAINT "files_bytes_of_content" CHECK ("files"."bytes" = octet_length("files"."content"))
);
--> statement-breakpoint
ALTER TABLE "files" ADD CONSTRAINT "files_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "files_tenant_time" ON "files" USING btree ("tenant_id","created_at_ms");