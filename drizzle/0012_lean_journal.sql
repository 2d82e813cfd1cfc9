-- The lean journal (DESIGN.md §4): a request writes its reservation (carrying its `reserve:`
-- transaction and holds) and its usage record (carrying its `settle:` or `release:` transaction
-- and transfers), nothing else. The tables of rows kept in full are renamed, and two views take
-- their old names, showing those rows and the ones derived from the lean records together, with
-- the same columns: every reader (the ledger check, statements, exports) reads them unchanged.
-- Rows written before this migration stay where they are and keep their meaning: their
-- reservations and usage records carry no transaction (NULL), so nothing is derived twice.
ALTER TABLE `ledger_transactions` RENAME TO `journal_transactions`;--> statement-breakpoint
ALTER TABLE `transfers` RENAME TO `journal_transfers`;--> statement-breakpoint
DROP INDEX `transfers_pending_resolution`;--> statement-breakpoint
CREATE UNIQUE INDEX `transfers_pending_resolution` ON `journal_transfers` (`pending_id`) WHERE "journal_transfers"."pending_id" IS NOT NULL;--> statement-breakpoint
DROP INDEX `ledger_transactions_provider`;--> statement-breakpoint
CREATE INDEX `ledger_transactions_provider` ON `journal_transactions` (`provider_id`) WHERE "journal_transactions"."provider_id" IS NOT NULL;--> statement-breakpoint
ALTER TABLE `reservations` ADD `transaction_id` integer;--> statement-breakpoint
ALTER TABLE `reservations` ADD `first_transfer_id` integer;--> statement-breakpoint
ALTER TABLE `reservations` ADD `legs` text;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `transaction_id` integer;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `first_transfer_id` integer;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `transaction_kind` text;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `transfers` text;--> statement-breakpoint
-- Derived rows take their ids from the same sequences as the rows kept in full, so ids stay
-- unique and in the order things happened across both.
CREATE TABLE `journal_ids` (
	`id` integer PRIMARY KEY NOT NULL,
	`last_transaction_id` integer NOT NULL,
	`last_transfer_id` integer NOT NULL,
	CONSTRAINT "journal_ids_one_row" CHECK("journal_ids"."id" = 1)
);
--> statement-breakpoint
INSERT INTO `journal_ids` (`id`, `last_transaction_id`, `last_transfer_id`) VALUES (1,
  (SELECT COALESCE(MAX(`id`), 0) FROM `journal_transactions`),
  (SELECT COALESCE(MAX(`id`), 0) FROM `journal_transfers`));--> statement-breakpoint
CREATE VIEW `ledger_transactions` AS
  SELECT `id`, `idempotency_key`, `kind`, `tenant_id`, `request_id`, `reference`, `amount`,
    `created_at_ms`, `provider_id`, `memo`
  FROM `journal_transactions`
  UNION ALL
  SELECT `transaction_id`, 'reserve:' || `request_id`, 'reserve', `tenant_id`, `request_id`, NULL,
    `reserved_amount`, `admitted_at_ms`, NULL, NULL
  FROM `reservations` WHERE `transaction_id` IS NOT NULL
  UNION ALL
  SELECT `transaction_id`, `transaction_kind` || ':' || `request_id`, `transaction_kind`,
    `tenant_id`, `request_id`, NULL, `cost`, `settled_at_ms`, NULL, NULL
  FROM `usage_records` WHERE `transaction_id` IS NOT NULL;--> statement-breakpoint
-- A reservation's legs are `[[debit account, amount], ...]`, each a hold crediting `holds`; a
-- usage record's transfers `[[debit, credit, amount, flag, pending transfer id], ...]`. The
-- n-th (from 0) takes the id first_transfer_id + n.
CREATE VIEW `transfers` AS
  SELECT `id`, `transaction_id`, `debit_account_id`, `credit_account_id`, `amount`, `flag`,
    `pending_id`, `created_at_ms`
  FROM `journal_transfers`
  UNION ALL
  SELECT r.`first_transfer_id` + leg.`key`, r.`transaction_id`, json_extract(leg.`value`, '$[0]'),
    'holds', json_extract(leg.`value`, '$[1]'), 'pending', NULL, r.`admitted_at_ms`
  FROM `reservations` r, json_each(r.`legs`) leg WHERE r.`legs` IS NOT NULL
  UNION ALL
  SELECT u.`first_transfer_id` + moved.`key`, u.`transaction_id`,
    json_extract(moved.`value`, '$[0]'), json_extract(moved.`value`, '$[1]'),
    json_extract(moved.`value`, '$[2]'), json_extract(moved.`value`, '$[3]'),
    json_extract(moved.`value`, '$[4]'), u.`settled_at_ms`
  FROM `usage_records` u, json_each(u.`transfers`) moved WHERE u.`transfers` IS NOT NULL;--> statement-breakpoint
-- The rows kept in full can be changed through the views as through the old tables (the ledger
-- check's own tests tamper with them); a derived row is changed only through its record.
CREATE TRIGGER `ledger_transactions_update` INSTEAD OF UPDATE ON `ledger_transactions` BEGIN
  SELECT RAISE(ABORT, 'a request''s transaction is changed through its reservation or usage record')
    WHERE NOT EXISTS (SELECT 1 FROM `journal_transactions` WHERE `id` = OLD.`id`);
  UPDATE `journal_transactions` SET `idempotency_key` = NEW.`idempotency_key`, `kind` = NEW.`kind`,
    `tenant_id` = NEW.`tenant_id`, `request_id` = NEW.`request_id`, `reference` = NEW.`reference`,
    `amount` = NEW.`amount`, `created_at_ms` = NEW.`created_at_ms`,
    `provider_id` = NEW.`provider_id`, `memo` = NEW.`memo`
  WHERE `id` = OLD.`id`;
END;--> statement-breakpoint
CREATE TRIGGER `ledger_transactions_delete` INSTEAD OF DELETE ON `ledger_transactions` BEGIN
  SELECT RAISE(ABORT, 'a request''s transaction is changed through its reservation or usage record')
    WHERE NOT EXISTS (SELECT 1 FROM `journal_transactions` WHERE `id` = OLD.`id`);
  DELETE FROM `journal_transactions` WHERE `id` = OLD.`id`;
END;--> statement-breakpoint
CREATE TRIGGER `transfers_update` INSTEAD OF UPDATE ON `transfers` BEGIN
  SELECT RAISE(ABORT, 'a request''s transfer is changed through its reservation or usage record')
    WHERE NOT EXISTS (SELECT 1 FROM `journal_transfers` WHERE `id` = OLD.`id`);
  UPDATE `journal_transfers` SET `transaction_id` = NEW.`transaction_id`,
    `debit_account_id` = NEW.`debit_account_id`, `credit_account_id` = NEW.`credit_account_id`,
    `amount` = NEW.`amount`, `flag` = NEW.`flag`, `pending_id` = NEW.`pending_id`,
    `created_at_ms` = NEW.`created_at_ms`
  WHERE `id` = OLD.`id`;
END;--> statement-breakpoint
CREATE TRIGGER `transfers_delete` INSTEAD OF DELETE ON `transfers` BEGIN
  SELECT RAISE(ABORT, 'a request''s transfer is changed through its reservation or usage record')
    WHERE NOT EXISTS (SELECT 1 FROM `journal_transfers` WHERE `id` = OLD.`id`);
  DELETE FROM `journal_transfers` WHERE `id` = OLD.`id`;
END;
