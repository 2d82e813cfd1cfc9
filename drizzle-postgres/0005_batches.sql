CREATE TABLE "batch_lines" (
	"batch_id" text NOT NULL,
	"line_index" integer NOT NULL,
	"custom_id" text NOT NULL,
	"model" text NOT NULL,
	"body" jsonb NOT NULL,
	"status" text NOT NULL,
	"runner_instance_id" text,
	"started_at_ms" bigint,
	"ended_at_ms" bigint,
	"result" jsonb,
	"input_tokens" integer,
	"output_tokens" integer,
	"cost" bigint,
	CONSTRAINT "batch_lines_batch_id_line_index_pk" PRIMARY KEY("batch_id","line_index")
);
--> statement-breakpoint
CREATE TABLE "batches" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" text NOT NULL,
	"key_id" text NOT NULL,
	"endpoint" text NOT NULL,
	"input_file_id" text NOT NULL,
	"completion_window" text NOT NULL,
	"status" text NOT NULL,
	"metadata" jsonb,
	"errors" jsonb,
	"output_file_id" text,
	"error_file_id" text,
	"request_total" integer NOT NULL,
	"request_completed" integer NOT NULL,
	"request_failed" integer NOT NULL,
	"input_tokens" bigint NOT NULL,
	"output_tokens" bigint NOT NULL,
	"cost" bigint NOT NULL,
	"created_at_ms" bigint NOT NULL,
	"expires_at_ms" bigint NOT NULL,
	"in_progress_at_ms" bigint,
	"finalizing_at_ms" bigint,
	"completed_at_ms" bigint,
	"failed_at_ms" bigint,
	"expired_at_ms" bigint,
	"cancelling_at_ms" bigint,
	"cancelled_at_ms" bigint
);
--> statement-breakpoint
CREATE UNIQUE INDEX "batch_lines_custom_id" ON "batch_lines" USING btree ("batch_id","custom_id");--> statement-breakpoint
CREATE INDEX "batch_lines_status" ON "batch_lines" USING btree ("batch_id","status","line_index");--> statement-breakpoint
CREATE INDEX "batches_tenant_time" ON "batches" USING btree ("tenant_id","created_at_ms");--> statement-breakpoint
CREATE INDEX "batches_status" ON "batches" USING btree ("status");