CREATE TABLE "session_permission_rules" (
	"session_id" uuid NOT NULL,
	"tool_name" text NOT NULL,
	"created_by" integer,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "session_permission_rules_session_id_tool_name_pk" PRIMARY KEY("session_id","tool_name")
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"user_id" integer NOT NULL,
	"scope" text NOT NULL,
	"key" text NOT NULL,
	"status" integer,
	"body" jsonb,
	"headers" jsonb,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_user_id_scope_key_pk" PRIMARY KEY("user_id","scope","key")
);
--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "error_code" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "error_message" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "alert" jsonb;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "turn_started_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "current_tool" text;--> statement-breakpoint
ALTER TABLE "session_permission_rules" ADD CONSTRAINT "session_permission_rules_session_id_sessions_id_fk" FOREIGN KEY ("session_id") REFERENCES "public"."sessions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "session_permission_rules" ADD CONSTRAINT "session_permission_rules_created_by_users_id_fk" FOREIGN KEY ("created_by") REFERENCES "public"."users"("id") ON DELETE set null ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE cascade ON UPDATE no action;