// GET /api/audit: the audit trail for system admins, newest first, filtered and paged.
import { Elysia, t } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { AUDIT_OUTCOMES } from '../db/schema/index.ts'
import { oneOf } from '../http/schema.ts'
import { listAudit } from './service.ts'

export const DEFAULT_AUDIT_PAGE = 50
export const MAX_AUDIT_PAGE = 500

export function auditRoutes(ctx: AppContext) {
  return new Elysia({ name: 'audit', seed: ctx.id, prefix: '/api/audit' }).use(authGuard(ctx)).get(
    '/',
    ({ query }) =>
      listAudit(ctx.db, {
        event: query.event,
        outcome: query.outcome,
        actorId: query.actor_id,
        targetType: query.target_type,
        targetId: query.target_id,
        tenantId: query.tenant_id,
        since: query.since ? new Date(query.since) : undefined,
        until: query.until ? new Date(query.until) : undefined,
        beforeId: query.before_id,
        limit: query.limit ?? DEFAULT_AUDIT_PAGE,
      }),
    {
      auth: 'system_admin',
      query: t.Object({
        event: t.Optional(t.String({ maxLength: 128 })),
        outcome: t.Optional(oneOf(AUDIT_OUTCOMES)),
        actor_id: t.Optional(t.String({ maxLength: 128 })),
        target_type: t.Optional(t.String({ maxLength: 64 })),
        target_id: t.Optional(t.String({ maxLength: 128 })),
        tenant_id: t.Optional(t.Integer({ minimum: 1 })),
        since: t.Optional(t.String({ format: 'date-time' })),
        until: t.Optional(t.String({ format: 'date-time' })),
        before_id: t.Optional(t.Integer({ minimum: 1 })),
        limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_AUDIT_PAGE })),
      }),
      detail: { summary: 'Audit log, newest first; page with before_id=next_before_id' },
    },
  )
}
