CREATE TABLE `files` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`filename` text NOT NULL,
	`purpose` text NOT NULL,
	`bytes` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	`content` blob NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "files_bytes_of_content" CHECK("files"."bytes" = length("files"."content"))
);
--> statement-breakpoint
CREATE INDEX `files_tenant_time` ON `files` (`tenant_id`,`created_at_ms`);