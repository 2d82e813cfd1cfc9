CREATE TABLE `meter_prices` (
	`id` text PRIMARY KEY NOT NULL,
	`meter` text NOT NULL,
	`from_region` text NOT NULL,
	`to_region` text NOT NULL,
	`price` integer NOT NULL,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `usage_records` ADD `lines` text DEFAULT '[]' NOT NULL;