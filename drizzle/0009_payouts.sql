CREATE TABLE `provider_payout_rates` (
	`provider_id` text NOT NULL,
	`version` integer NOT NULL,
	`payout_bps` integer NOT NULL,
	`effective_at_ms` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	PRIMARY KEY(`provider_id`, `version`),
	FOREIGN KEY (`provider_id`) REFERENCES `providers`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `provider_payout_rates_effective` ON `provider_payout_rates` (`provider_id`,`effective_at_ms`);--> statement-breakpoint
ALTER TABLE `ledger_transactions` ADD `provider_id` text;--> statement-breakpoint
ALTER TABLE `ledger_transactions` ADD `memo` text;--> statement-breakpoint
CREATE INDEX `ledger_transactions_provider` ON `ledger_transactions` (`provider_id`) WHERE "ledger_transactions"."provider_id" IS NOT NULL;