CREATE TABLE "lease_backends" (
	"lease_id" text NOT NULL,
	"backend_id" text NOT NULL,
	"provider_id" text NOT NULL,
	"accelerators" integer NOT NULL,
	"failed_at_ms" bigint,
	CONSTRAINT "lease_backends_lease_id_backend_id_pk" PRIMARY KEY("lease_id","backend_id")
);
--> statement-breakpoint
CREATE TABLE "leases" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"model" text NOT NULL,
	"region" text,
	"accelerators" integer NOT NULL,
	"hours" integer NOT NULL,
	"price_id" text NOT NULL,
	"card_hour" bigint NOT NULL,
	"cost" bigint NOT NULL,
	"starts_at_ms" bigint NOT NULL,
	"ends_at_ms" bigint NOT NULL,
	"paid_by" jsonb,
	"paid_at_ms" bigint,
	"ended_at_ms" bigint,
	"settled_at_ms" bigint,
	"created_at_ms" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "backends" ADD COLUMN "accelerators" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "backends" ADD COLUMN "accelerator" text;--> statement-breakpoint
ALTER TABLE "prices" ADD COLUMN "card_hour" bigint;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "lease_id" text;--> statement-breakpoint
ALTER TABLE "lease_backends" ADD CONSTRAINT "lease_backends_lease_id_leases_id_fk" FOREIGN KEY ("lease_id") REFERENCES "public"."leases"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "lease_backends_backend" ON "lease_backends" USING btree ("backend_id");--> statement-breakpoint
CREATE INDEX "leases_tenant" ON "leases" USING btree ("tenant_id");--> statement-breakpoint
CREATE INDEX "leases_ends" ON "leases" USING btree ("ends_at_ms");