CREATE TABLE "provider_payout_rates" (
	"provider_id" text NOT NULL,
	"version" integer NOT NULL,
	"payout_bps" integer NOT NULL,
	"effective_at_ms" bigint NOT NULL,
	"created_at_ms" bigint NOT NULL,
	CONSTRAINT "provider_payout_rates_provider_id_version_pk" PRIMARY KEY("provider_id","version")
);
--> statement-breakpoint
ALTER TABLE "ledger_transactions" ADD COLUMN "provider_id" text;--> statement-breakpoint
ALTER TABLE "ledger_transactions" ADD COLUMN "memo" text;--> statement-breakpoint
ALTER TABLE "provider_payout_rates" ADD CONSTRAINT "provider_payout_rates_provider_id_providers_id_fk" FOREIGN KEY ("provider_id") REFERENCES "public"."providers"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "provider_payout_rates_effective" ON "provider_payout_rates" USING btree ("provider_id","effective_at_ms");--> statement-breakpoint
CREATE INDEX "ledger_transactions_provider" ON "ledger_transactions" USING btree ("provider_id") WHERE "ledger_transactions"."provider_id" IS NOT NULL;