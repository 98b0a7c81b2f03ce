CREATE TABLE "quota_counters" (
	"user_id" integer NOT NULL,
	"period" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"tokens" bigint DEFAULT 0 NOT NULL,
	"reserved" bigint DEFAULT 0 NOT NULL,
	"requests" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "quota_counters_user_id_period_starts_at_pk" PRIMARY KEY("user_id","period","starts_at")
);
--> statement-breakpoint
ALTER TABLE "quota_usage" ADD COLUMN "estimated" boolean DEFAULT false NOT NULL;