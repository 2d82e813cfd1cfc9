ALTER TABLE "usage_records" ADD COLUMN "claimed_input_tokens" integer;--> statement-breakpoint
ALTER TABLE "usage_records" ADD COLUMN "claimed_output_tokens" integer;