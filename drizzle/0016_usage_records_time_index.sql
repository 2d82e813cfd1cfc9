-- A period's usage records in time order, without reading the others: a program's statement
-- pages through them (created_at_ms, request_id), as PostgreSQL does through its twin.
CREATE INDEX `usage_records_time` ON `usage_records` (`created_at_ms`,`request_id`);
