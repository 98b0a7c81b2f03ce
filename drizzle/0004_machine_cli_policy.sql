ALTER TABLE "remote_machines" ADD COLUMN "allowed_cli_tools" jsonb;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "required_isolation" text DEFAULT 'none' NOT NULL;