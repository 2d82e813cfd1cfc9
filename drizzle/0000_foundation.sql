CREATE TABLE `admin_credentials` (
	`id` text PRIMARY KEY NOT NULL,
	`token_hash` text NOT NULL,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `admin_credentials_token_hash` ON `admin_credentials` (`token_hash`);--> statement-breakpoint
CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`name` text,
	`key_hash` text NOT NULL,
	`key_prefix` text NOT NULL,
	`models` text,
	`rpm` integer,
	`tpm` integer,
	`status` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`revoked_at_ms` integer,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE INDEX `api_keys_tenant` ON `api_keys` (`tenant_id`);--> statement-breakpoint
CREATE TABLE `backends` (
	`id` text PRIMARY KEY NOT NULL,
	`provider_id` text NOT NULL,
	`url` text NOT NULL,
	`region` text NOT NULL,
	`models` text NOT NULL,
	`slots` integer NOT NULL,
	`api_key` text,
	`metrics_url` text,
	`state` text NOT NULL,
	`created_at_ms` integer NOT NULL,
	`updated_at_ms` integer NOT NULL,
	FOREIGN KEY (`provider_id`) REFERENCES `providers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `backends_provider` ON `backends` (`provider_id`);--> statement-breakpoint
CREATE TABLE `models` (
	`id` text PRIMARY KEY NOT NULL,
	`owned_by` text NOT NULL,
	`output_tokens_default` integer,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `prices` (
	`id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`region` text NOT NULL,
	`version` integer NOT NULL,
	`input_per_million` integer NOT NULL,
	`cached_input_per_million` integer NOT NULL,
	`output_per_million` integer NOT NULL,
	`currency` text NOT NULL,
	`effective_at_ms` integer NOT NULL,
	`offpeak_start` text,
	`offpeak_end` text,
	`offpeak_timezone` text,
	`offpeak_multiplier_bps` integer,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `prices_model_region_version` ON `prices` (`model`,`region`,`version`);--> statement-breakpoint
CREATE TABLE `providers` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`payout_bps` integer NOT NULL,
	`token_hash` text NOT NULL,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `providers_token_hash` ON `providers` (`token_hash`);--> statement-breakpoint
CREATE TABLE `tenants` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`home_region` text,
	`allowed_regions` text,
	`allow_max_tokens_clamp` integer NOT NULL,
	`created_at_ms` integer NOT NULL
);
