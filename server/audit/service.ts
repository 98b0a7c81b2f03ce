// The one audit(event, actor, target, details) service every capability calls, and the query
// behind GET /api/audit. Audit writes never fail the operation they record: a failure is logged.
import { and, desc, eq, gte, lt, lte, type SQL } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { type ActorType, type AuditOutcome, auditLog } from '../db/schema/index.ts'
import type { Logger } from '../log.ts'

export interface Actor {
  type: ActorType
  id?: string | number | null
  name?: string | null
  tenantId?: number | null
  ip?: string | null
}

export interface Target {
  type: string
  id?: string | number | null
}

export interface AuditOptions {
  outcome?: AuditOutcome
  tenantId?: number | null
}

export const SYSTEM_ACTOR: Actor = { type: 'system', name: 'system' }

export type AuditFn = (
  event: string,
  actor: Actor,
  target: Target | null,
  details?: Record<string, unknown>,
  options?: AuditOptions,
) => Promise<void>

export function createAuditor(db: Db, log: Logger): AuditFn {
  return async (event, actor, target, details = {}, options = {}) => {
    try {
      await db.insert(auditLog).values({
        event,
        outcome: options.outcome ?? 'success',
        tenantId: options.tenantId ?? actor.tenantId ?? null,
        actorType: actor.type,
        actorId: actor.id == null ? null : String(actor.id),
        actorName: actor.name ?? null,
        ip: actor.ip ?? null,
        targetType: target?.type ?? null,
        targetId: target?.id == null ? null : String(target.id),
        details,
      })
    } catch (cause) {
      log.error('audit write failed', { event, error: cause })
    }
  }
}

export interface AuditQuery {
  event?: string
  outcome?: AuditOutcome
  actorId?: string
  targetType?: string
  targetId?: string
  tenantId?: number
  since?: Date
  until?: Date
  /** Rows with an id below this one (keyset paging, newest first). */
  beforeId?: number
  limit: number
}

export async function listAudit(db: Db, q: AuditQuery) {
  const where: SQL[] = []
  if (q.event) where.push(eq(auditLog.event, q.event))
  if (q.outcome) where.push(eq(auditLog.outcome, q.outcome))
  if (q.actorId) where.push(eq(auditLog.actorId, q.actorId))
  if (q.targetType) where.push(eq(auditLog.targetType, q.targetType))
  if (q.targetId) where.push(eq(auditLog.targetId, q.targetId))
  if (q.tenantId !== undefined) where.push(eq(auditLog.tenantId, q.tenantId))
  if (q.since) where.push(gte(auditLog.ts, q.since))
  if (q.until) where.push(lte(auditLog.ts, q.until))
  if (q.beforeId) where.push(lt(auditLog.id, q.beforeId))
  const rows = await db
    .select()
    .from(auditLog)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
  const page = rows.slice(0, q.limit)
  return {
    entries: page.map((r) => ({
      id: r.id,
      ts: r.ts.toISOString(),
      event: r.event,
      outcome: r.outcome,
      tenant_id: r.tenantId,
      actor: { type: r.actorType, id: r.actorId, name: r.actorName },
      target: r.targetType ? { type: r.targetType, id: r.targetId } : null,
      ip: r.ip,
      details: r.details,
    })),
    next_before_id: rows.length > q.limit ? page[page.length - 1]!.id : null,
  }
}
