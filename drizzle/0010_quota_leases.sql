CREATE TABLE "quota_leases" (
	"instance_id" text NOT NULL,
	"user_id" integer NOT NULL,
	"period" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "quota_leases_instance_id_user_id_period_starts_at_pk" PRIMARY KEY("instance_id","user_id","period","starts_at")
);
--> statement-breakpoint
CREATE INDEX "quota_leases_counter_idx" ON "quota_leases" USING btree ("user_id","period","starts_at");--> statement-breakpoint
CREATE INDEX "quota_leases_expires_idx" ON "quota_leases" USING btree ("expires_at");