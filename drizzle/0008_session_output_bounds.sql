ALTER TABLE "sessions" ADD COLUMN "output_bytes" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "output_dropped_bytes" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "output_dropped_through" integer DEFAULT -1 NOT NULL;