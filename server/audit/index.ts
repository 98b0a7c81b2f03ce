// GET /api/audit: the audit trail for system admins, newest first, filtered and paged;
// GET /api/audit/export.csv: the same filter as a CSV download (at most MAX_AUDIT_EXPORT rows).
import { Elysia, type Static, t } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { AUDIT_OUTCOMES } from '../db/schema/index.ts'
import { csvDate, csvResponse } from '../http/csv.ts'
import { oneOf } from '../http/schema.ts'
import { AuditPage } from './model.ts'
import { type AuditEntry, type AuditQuery, listAudit } from './service.ts'

export const DEFAULT_AUDIT_PAGE = 50
export const MAX_AUDIT_PAGE = 500
export const MAX_AUDIT_EXPORT = 10_000

const AuditFilter = t.Object({
  event: t.Optional(t.String({ maxLength: 128 })),
  outcome: t.Optional(oneOf(AUDIT_OUTCOMES)),
  actor_id: t.Optional(t.String({ maxLength: 128 })),
  actor: t.Optional(t.String({ minLength: 1, maxLength: 128 })),
  target_type: t.Optional(t.String({ maxLength: 64 })),
  target_id: t.Optional(t.String({ maxLength: 128 })),
  target: t.Optional(t.String({ minLength: 1, maxLength: 128 })),
  tenant_id: t.Optional(t.Integer({ minimum: 1 })),
  since: t.Optional(t.String({ format: 'date-time' })),
  until: t.Optional(t.String({ format: 'date-time' })),
})

function filterOf(query: Static<typeof AuditFilter>): Omit<AuditQuery, 'limit'> {
  return {
    event: query.event,
    outcome: query.outcome,
    actorId: query.actor_id,
    actor: query.actor,
    targetType: query.target_type,
    targetId: query.target_id,
    target: query.target,
    tenantId: query.tenant_id,
    since: query.since ? new Date(query.since) : undefined,
    until: query.until ? new Date(query.until) : undefined,
  }
}

/** Details as `field: value` pairs, one per line (nested values as JSON). */
const detailsText = (details: AuditEntry['details']) =>
  Object.entries(details ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}: ${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
    .join('\n')

const CSV_HEADER = [
  'time',
  'event',
  'outcome',
  'actor_type',
  'actor_name',
  'actor_id',
  'target_type',
  'target_name',
  'target_id',
  'ip',
  'details',
]

export function auditRoutes(ctx: AppContext) {
  return new Elysia({ name: 'audit', seed: ctx.id, prefix: '/api/audit' })
    .use(authGuard(ctx))
    .get(
      '/',
      ({ query }) =>
        listAudit(ctx.db, {
          ...filterOf(query),
          beforeId: query.before_id,
          limit: query.limit ?? DEFAULT_AUDIT_PAGE,
        }),
      {
        auth: 'system_admin',
        query: t.Composite([
          AuditFilter,
          t.Object({
            before_id: t.Optional(t.Integer({ minimum: 1 })),
            limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_AUDIT_PAGE })),
          }),
        ]),
        response: AuditPage,
        detail: {
          summary:
            'Audit log, newest first; actor/target match names or ids; page with before_id=next_before_id',
        },
      },
    )
    .get(
      '/export.csv',
      async ({ query }) => {
        const { entries } = await listAudit(ctx.db, { ...filterOf(query), limit: MAX_AUDIT_EXPORT })
        const rows = entries.map((e) => [
          e.ts,
          e.event,
          e.outcome,
          e.actor.type,
          e.actor.name,
          e.actor.id,
          e.target?.type,
          e.target?.name,
          e.target?.id,
          e.ip,
          detailsText(e.details),
        ])
        return csvResponse(`audit-${csvDate(ctx.now())}.csv`, CSV_HEADER, rows)
      },
      {
        auth: 'system_admin',
        query: AuditFilter,
        detail: {
          summary: `The audit log as CSV, same filters, newest first (at most ${MAX_AUDIT_EXPORT} rows)`,
        },
      },
    )
}
