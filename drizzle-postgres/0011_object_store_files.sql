ALTER TABLE "files" DROP CONSTRAINT "files_bytes_of_content";--> statement-breakpoint
ALTER TABLE "files" ALTER COLUMN "content" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "files" ADD CONSTRAINT "files_bytes_of_content" CHECK ("files"."content" IS NULL OR "files"."bytes" = octet_length("files"."content"));