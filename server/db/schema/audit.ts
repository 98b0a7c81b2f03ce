// The audit trail every capability writes through server/audit: who did what to what, and how it ended.
import { bigserial, index, integer, jsonb, pgTable, text } from 'drizzle-orm/pg-core'
import { tz } from './timestamps.ts'

export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const
export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number]
export const ACTOR_TYPES = ['user', 'agent', 'system', 'anonymous'] as const
export type ActorType = (typeof ACTOR_TYPES)[number]

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    ts: tz('ts').notNull().defaultNow(),
    tenantId: integer('tenant_id'),
    actorType: text('actor_type', { enum: ACTOR_TYPES }).notNull(),
    actorId: text('actor_id'),
    actorName: text('actor_name'),
    event: text('event').notNull(),
    outcome: text('outcome', { enum: AUDIT_OUTCOMES }).notNull().default('success'),
    targetType: text('target_type'),
    targetId: text('target_id'),
    /** The target's name at write time, so the trail reads in names after it is deleted. */
    targetName: text('target_name'),
    ip: text('ip'),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index('audit_log_ts_idx').on(t.ts),
    index('audit_log_event_ts_idx').on(t.event, t.ts),
    index('audit_log_target_idx').on(t.targetType, t.targetId),
  ],
)
