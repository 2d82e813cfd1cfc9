CREATE TABLE "meter_prices" (
	"id" text PRIMARY KEY NOT NULL,
	"meter" text NOT NULL,
	"from_region" text NOT NULL,
	"to_region" text NOT NULL,
	"price" bigint NOT NULL,
	"created_at_ms" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "lines" jsonb DEFAULT '[]'::jsonb NOT NULL;