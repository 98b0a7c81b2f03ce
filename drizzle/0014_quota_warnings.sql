CREATE TABLE "quota_warnings" (
	"user_id" integer NOT NULL,
	"period" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"limit" text NOT NULL,
	"session_id" uuid,
	"warned_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "quota_warnings_user_id_period_starts_at_limit_pk" PRIMARY KEY("user_id","period","starts_at","limit")
);
--> statement-breakpoint
ALTER TABLE "quota_warnings" ADD CONSTRAINT "quota_warnings_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;