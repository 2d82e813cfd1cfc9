CREATE TABLE `accounts` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`owner_id` text,
	`no_overdraft` integer NOT NULL,
	`debits_posted` integer NOT NULL,
	`credits_posted` integer NOT NULL,
	`debits_pending` integer NOT NULL,
	`credits_pending` integer NOT NULL,
	CONSTRAINT "accounts_no_overdraft" CHECK("accounts"."no_overdraft" = 0 OR "accounts"."credits_posted" - "accounts"."debits_posted" - "accounts"."debits_pending" >= 0)
);
--> statement-breakpoint
CREATE INDEX `accounts_owner` ON `accounts` (`owner_id`);--> statement-breakpoint
CREATE TABLE `coupons` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`kind` text NOT NULL,
	`program` text NOT NULL,
	`amount` integer NOT NULL,
	`coverage_bps` integer NOT NULL,
	`models` text,
	`regions` text,
	`priority` integer NOT NULL,
	`starts_at_ms` integer NOT NULL,
	`expires_at_ms` integer,
	`status` text NOT NULL,
	`reference` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`ended_at_ms` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `coupons_tenant_reference` ON `coupons` (`tenant_id`,`reference`);--> statement-breakpoint
CREATE INDEX `coupons_tenant` ON `coupons` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `gateway_instances` (
	`id` text PRIMARY KEY NOT NULL,
	`started_at_ms` integer NOT NULL,
	`heartbeat_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `ledger_transactions` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`idempotency_key` text NOT NULL,
	`kind` text NOT NULL,
	`tenant_id` text,
	`request_id` text,
	`reference` text,
	`amount` integer NOT NULL,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `ledger_transactions_idempotency_key` ON `ledger_transactions` (`idempotency_key`);--> statement-breakpoint
CREATE INDEX `ledger_transactions_tenant` ON `ledger_transactions` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `reservations` (
	`request_id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`region` text NOT NULL,
	`price_id` text NOT NULL,
	`multiplier_bps` integer NOT NULL,
	`reserved_amount` integer NOT NULL,
	`status` text NOT NULL,
	`instance_id` text NOT NULL,
	`backend_id` text,
	`prompt_tokens_estimate` integer NOT NULL,
	`checkpoint_input_tokens` integer,
	`checkpoint_output_tokens` integer,
	`checkpoint_at_ms` integer,
	`admitted_at_ms` integer NOT NULL,
	`ended_at_ms` integer
);
--> statement-breakpoint
CREATE INDEX `reservations_status` ON `reservations` (`status`,`admitted_at_ms`);--> statement-breakpoint
CREATE TABLE `transfers` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`transaction_id` integer NOT NULL,
	`debit_account_id` text NOT NULL,
	`credit_account_id` text NOT NULL,
	`amount` integer NOT NULL,
	`flag` text NOT NULL,
	`pending_id` integer,
	`created_at_ms` integer NOT NULL,
	FOREIGN KEY (`transaction_id`) REFERENCES `ledger_transactions`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "transfers_positive" CHECK("transfers"."amount" > 0)
);
--> statement-breakpoint
CREATE INDEX `transfers_transaction` ON `transfers` (`transaction_id`);--> statement-breakpoint
CREATE UNIQUE INDEX `transfers_pending_resolution` ON `transfers` (`pending_id`);--> statement-breakpoint
CREATE TABLE `usage_records` (
	`request_id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`model` text NOT NULL,
	`region` text,
	`backend_id` text,
	`provider_id` text,
	`input_tokens` integer,
	`cached_input_tokens` integer,
	`output_tokens` integer,
	`reasoning_tokens` integer,
	`usage_source` text,
	`outcome` text NOT NULL,
	`cost` integer NOT NULL,
	`provider_share` integer NOT NULL,
	`paid_by` text NOT NULL,
	`price_id` text,
	`verified_output_tokens` integer,
	`created_at_ms` integer NOT NULL,
	`settled_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `usage_records_tenant_time` ON `usage_records` (`tenant_id`,`created_at_ms`);--> statement-breakpoint
CREATE INDEX `usage_records_provider_time` ON `usage_records` (`provider_id`,`created_at_ms`);