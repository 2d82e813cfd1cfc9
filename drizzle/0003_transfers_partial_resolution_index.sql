DROP INDEX `transfers_pending_resolution`;--> statement-breakpoint
CREATE UNIQUE INDEX `transfers_pending_resolution` ON `transfers` (`pending_id`) WHERE "transfers"."pending_id" IS NOT NULL;