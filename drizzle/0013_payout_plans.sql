CREATE TABLE `payout_plan_parts` (
	`plan_id` integer NOT NULL,
	`tenant_id` text NOT NULL,
	`amount` integer NOT NULL,
	PRIMARY KEY(`plan_id`, `tenant_id`),
	FOREIGN KEY (`plan_id`) REFERENCES `payout_plans`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "payout_plan_parts_amount_positive" CHECK("payout_plan_parts"."amount" > 0)
);
--> statement-breakpoint
CREATE TABLE `payout_plans` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`provider_id` text NOT NULL,
	`reference` text NOT NULL,
	`amount` integer NOT NULL,
	`note` text,
	`created_at_ms` integer NOT NULL,
	`completed_at_ms` integer,
	CONSTRAINT "payout_plans_amount_positive" CHECK("payout_plans"."amount" > 0)
);
--> statement-breakpoint
CREATE UNIQUE INDEX `payout_plans_reference` ON `payout_plans` (`provider_id`,`reference`);