CREATE TABLE "usage_daily" (
	"tenant_id" text NOT NULL,
	"day" integer NOT NULL,
	"requests" bigint NOT NULL,
	"input_tokens" bigint NOT NULL,
	"cached_input_tokens" bigint NOT NULL,
	"output_tokens" bigint NOT NULL,
	"cost" bigint NOT NULL,
	CONSTRAINT "usage_daily_tenant_id_day_pk" PRIMARY KEY("tenant_id","day")
);
--> statement-breakpoint
-- Kept by this trigger only, in the transaction that inserts the usage record: the ledger's
-- write code is unchanged, and /v1/account reads today's totals as one row.
CREATE FUNCTION "usage_daily_add"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF NEW."outcome" <> 'rejected' THEN
		INSERT INTO "usage_daily" ("tenant_id", "day", "requests", "input_tokens", "cached_input_tokens", "output_tokens", "cost")
		VALUES (NEW."tenant_id", (NEW."created_at_ms" / 86400000)::integer, 1, COALESCE(NEW."input_tokens", 0), COALESCE(NEW."cached_input_tokens", 0), COALESCE(NEW."output_tokens", 0), NEW."cost")
		ON CONFLICT ("tenant_id", "day") DO UPDATE SET
			"requests" = "usage_daily"."requests" + 1,
			"input_tokens" = "usage_daily"."input_tokens" + EXCLUDED."input_tokens",
			"cached_input_tokens" = "usage_daily"."cached_input_tokens" + EXCLUDED."cached_input_tokens",
			"output_tokens" = "usage_daily"."output_tokens" + EXCLUDED."output_tokens",
			"cost" = "usage_daily"."cost" + EXCLUDED."cost";
	END IF;
	RETURN NULL;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER "usage_daily_after_insert" AFTER INSERT ON "usage_records" FOR EACH ROW EXECUTE FUNCTION "usage_daily_add"();
--> statement-breakpoint
-- The usage recorded before this migration, summed once.
INSERT INTO "usage_daily" ("tenant_id", "day", "requests", "input_tokens", "cached_input_tokens", "output_tokens", "cost")
SELECT "tenant_id", ("created_at_ms" / 86400000)::integer, COUNT(*), COALESCE(SUM("input_tokens"), 0), COALESCE(SUM("cached_input_tokens"), 0), COALESCE(SUM("output_tokens"), 0), COALESCE(SUM("cost"), 0)
FROM "usage_records" WHERE "outcome" <> 'rejected'
GROUP BY 1, 2;
