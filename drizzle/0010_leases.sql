CREATE TABLE `lease_backends` (
	`lease_id` text NOT NULL,
	`backend_id` text NOT NULL,
	`provider_id` text NOT NULL,
	`accelerators` integer NOT NULL,
	`failed_at_ms` integer,
	PRIMARY KEY(`lease_id`, `backend_id`),
	FOREIGN KEY (`lease_id`) REFERENCES `leases`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `lease_backends_backend` ON `lease_backends` (`backend_id`);--> statement-breakpoint
CREATE TABLE `leases` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`model` text NOT NULL,
	`region` text,
	`accelerators` integer NOT NULL,
	`hours` integer NOT NULL,
	`price_id` text NOT NULL,
	`card_hour` integer NOT NULL,
	`cost` integer NOT NULL,
	`starts_at_ms` integer NOT NULL,
	`ends_at_ms` integer NOT NULL,
	`paid_by` text,
	`paid_at_ms` integer,
	`ended_at_ms` integer,
	`settled_at_ms` integer,
	`created_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `leases_tenant` ON `leases` (`tenant_id`);--> statement-breakpoint
CREATE INDEX `leases_ends` ON `leases` (`ends_at_ms`);--> statement-breakpoint
ALTER TABLE `backends` ADD `accelerators` integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE `backends` ADD `accelerator` text;--> statement-breakpoint
ALTER TABLE `prices` ADD `card_hour` integer;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `lease_id` text;