CREATE TABLE `usage_daily` (
	`tenant_id` text NOT NULL,
	`day` integer NOT NULL,
	`requests` integer NOT NULL,
	`input_tokens` integer NOT NULL,
	`cached_input_tokens` integer NOT NULL,
	`output_tokens` integer NOT NULL,
	`cost` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `day`)
);
--> statement-breakpoint
-- Kept by this trigger only, in the transaction that inserts the usage record: the ledger's
-- write code is unchanged, and /v1/account reads today's totals as one row.
CREATE TRIGGER `usage_daily_after_insert` AFTER INSERT ON `usage_records`
WHEN NEW.`outcome` != 'rejected'
BEGIN
	INSERT INTO `usage_daily` (`tenant_id`, `day`, `requests`, `input_tokens`, `cached_input_tokens`, `output_tokens`, `cost`)
	VALUES (NEW.`tenant_id`, NEW.`created_at_ms` / 86400000, 1, COALESCE(NEW.`input_tokens`, 0), COALESCE(NEW.`cached_input_tokens`, 0), COALESCE(NEW.`output_tokens`, 0), NEW.`cost`)
	ON CONFLICT (`tenant_id`, `day`) DO UPDATE SET
		`requests` = `requests` + 1,
		`input_tokens` = `input_tokens` + excluded.`input_tokens`,
		`cached_input_tokens` = `cached_input_tokens` + excluded.`cached_input_tokens`,
		`output_tokens` = `output_tokens` + excluded.`output_tokens`,
		`cost` = `cost` + excluded.`cost`;
END;
--> statement-breakpoint
-- The usage recorded before this migration, summed once.
INSERT INTO `usage_daily` (`tenant_id`, `day`, `requests`, `input_tokens`, `cached_input_tokens`, `output_tokens`, `cost`)
SELECT `tenant_id`, `created_at_ms` / 86400000, COUNT(*), COALESCE(SUM(`input_tokens`), 0), COALESCE(SUM(`cached_input_tokens`), 0), COALESCE(SUM(`output_tokens`), 0), COALESCE(SUM(`cost`), 0)
FROM `usage_records` WHERE `outcome` != 'rejected'
GROUP BY `tenant_id`, `created_at_ms` / 86400000;
