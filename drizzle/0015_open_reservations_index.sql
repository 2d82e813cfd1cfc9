-- Only open reservations are looked up by status (the sweep, the open-holds gauge, a Durable
-- Object's alarm): the index holds just those, so ending a request deletes its entry instead of
-- moving it within a tree that grows with every request ever made.
DROP INDEX `reservations_status`;--> statement-breakpoint
CREATE INDEX `reservations_open` ON `reservations` (`admitted_at_ms`) WHERE "reservations"."status" = 'reserved';
