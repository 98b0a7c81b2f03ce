ALTER TABLE "audit_log" ADD COLUMN "target_name" text;--> statement-breakpoint
UPDATE "audit_log" a SET "target_name" = u."username" FROM "users" u WHERE a."target_type" = 'user' AND a."target_id" = u."id"::text;--> statement-breakpoint
UPDATE "audit_log" a SET "target_name" = t."name" FROM "tenants" t WHERE a."target_type" = 'tenant' AND a."target_id" = t."id"::text;--> statement-breakpoint
UPDATE "audit_log" a SET "target_name" = m."name" FROM "remote_machines" m WHERE a."target_type" = 'machine' AND a."target_id" = m."machine_id";--> statement-breakpoint
UPDATE "audit_log" a SET "target_name" = k."key_name" FROM "api_key_store" k WHERE a."target_type" = 'api_key' AND a."target_id" = k."id"::text;
