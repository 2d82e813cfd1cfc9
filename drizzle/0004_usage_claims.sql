ALTER TABLE `usage_records` ADD `claimed_input_tokens` integer;--> statement-breakpoint
ALTER TABLE `usage_records` ADD `claimed_output_tokens` integer;