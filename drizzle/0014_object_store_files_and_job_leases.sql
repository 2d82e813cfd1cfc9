CREATE TABLE `job_leases` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text NOT NULL,
	`expires_at_ms` integer NOT NULL
);
--> statement-breakpoint
PRAGMA foreign_keys=OFF;--> statement-breakpoint
CREATE TABLE `__new_files` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`filename` text NOT NULL,
	`purpose` text NOT NULL,
	`bytes` integer NOT NULL,
	`created_at_ms` integer NOT NULL,
	`content` blob,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action,
	CONSTRAINT "files_bytes_of_content" CHECK("__new_files"."content" IS NULL OR "__new_files"."bytes" = length("__new_files"."content"))
);
--> statement-breakpoint
INSERT INTO `__new_files`("id", "tenant_id", "filename", "purpose", "bytes", "created_at_ms", "content") SELECT "id", "tenant_id", "filename", "purpose", "bytes", "created_at_ms", "content" FROM `files`;--> statement-breakpoint
DROP TABLE `files`;--> statement-breakpoint
ALTER TABLE `__new_files` RENAME TO `files`;--> statement-breakpoint
PRAGMA foreign_keys=ON;--> statement-breakpoint
CREATE INDEX `files_tenant_time` ON `files` (`tenant_id`,`created_at_ms`);