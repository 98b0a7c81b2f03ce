// Response schemas of /api/audit: an entry is a row of audit_log (service.ts publicEntry), its
// actor and target grouped, the timestamp as an ISO string.
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { auditLog } from '../db/schema/index.ts'
import { IsoTime } from '../http/schema.ts'

const row = createSelectSchema(auditLog).properties

export const AuditEntry = t.Object({
  id: row.id,
  ts: IsoTime,
  event: row.event,
  outcome: row.outcome,
  tenant_id: row.tenantId,
  actor: t.Object({ type: row.actorType, id: row.actorId, name: row.actorName }),
  target: t.Nullable(t.Object({ type: t.String(), id: row.targetId, name: row.targetName })),
  ip: row.ip,
  details: t.Record(t.String(), t.Unknown()),
})

export const AuditPage = t.Object({
  entries: t.Array(AuditEntry),
  /** The `before_id` of the next (older) page; null on the last. */
  next_before_id: t.Nullable(row.id),
})
