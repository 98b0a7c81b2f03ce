ALTER TABLE "remote_machines" ADD COLUMN "update_state" text;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "update_version" text;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "update_error" text;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "update_requested" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "update_force" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "update_changed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "update_window" text;--> statement-breakpoint
ALTER TABLE "remote_machines" ADD COLUMN "auto_update" boolean;