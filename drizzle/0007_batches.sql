CREATE TABLE `batch_lines` (
	`batch_id` text NOT NULL,
	`line_index` integer NOT NULL,
	`custom_id` text NOT NULL,
	`model` text NOT NULL,
	`body` text NOT NULL,
	`status` text NOT NULL,
	`runner_instance_id` text,
	`started_at_ms` integer,
	`ended_at_ms` integer,
	`result` text,
	`input_tokens` integer,
	`output_tokens` integer,
	`cost` integer,
	PRIMARY KEY(`batch_id`, `line_index`)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `batch_lines_custom_id` ON `batch_lines` (`batch_id`,`custom_id`);--> statement-breakpoint
CREATE INDEX `batch_lines_status` ON `batch_lines` (`batch_id`,`status`,`line_index`);--> statement-breakpoint
CREATE TABLE `batches` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`endpoint` text NOT NULL,
	`input_file_id` text NOT NULL,
	`completion_window` text NOT NULL,
	`status` text NOT NULL,
	`metadata` text,
	`errors` text,
	`output_file_id` text,
	`error_file_id` text,
	`request_total` integer NOT NULL,
	`request_completed` integer NOT NULL,
	`request_failed` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cost` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	`expires_at_ms` integer NOT NULL,
	`in_progress_at_ms` integer,
	`finalizing_at_ms` integer,
	`completed_at_ms` integer,
	`failed_at_ms` integer,
	`expired_at_ms` integer,
	`cancelling_at_ms` integer,
	`cancelled_at_ms` integer
);
--> statement-breakpoint
CREATE INDEX `batches_tenant_time` ON `batches` (`tenant_id`,`created_at_ms`);--> statement-breakpoint
CREATE INDEX `batches_status` ON `batches` (`status`);