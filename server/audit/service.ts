// The one audit(event, actor, target, details) service every capability calls, the query
// behind GET /api/audit and its CSV export, and the counts rate limits are taken from (the only
// reads of the table outside this folder go through ctx.auditEvents). Audit writes never fail the
// operation they record: a failure is logged. Each row keeps its actor's and target's names as
// they were (names.ts).
import { and, count, desc, eq, gte, ilike, isNull, lt, lte, min, or, type SQL } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import { type ActorType, type AuditOutcome, auditLog } from '../db/schema/index.ts'
import type { Logger } from '../log.ts'
import { nameOf } from './names.ts'

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
  /** What the target was called when this happened (else looked up at write time). */
  name?: string | null
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

/** The row an audit entry is, for a caller that writes it inside its own statement (chat). */
export function auditRow(
  event: string,
  actor: Actor,
  target: Target | null,
  details: Record<string, unknown> = {},
  options: AuditOptions = {},
): typeof auditLog.$inferInsert & {
  outcome: AuditOutcome
  actorId: string | null
  actorName: string | null
  targetId: string | null
  targetName: string | null
  details: Record<string, unknown>
} {
  return {
    event,
    outcome: options.outcome ?? 'success',
    tenantId: options.tenantId ?? actor.tenantId ?? null,
    actorType: actor.type,
    actorId: actor.id == null ? null : String(actor.id),
    actorName: actor.name ?? null,
    ip: actor.ip ?? null,
    targetType: target?.type ?? null,
    targetId: target?.id == null ? null : String(target.id),
    targetName: target?.name ?? null,
    details,
  }
}

export function createAuditor(db: Db, log: Logger): AuditFn {
  return async (event, actor, target, details = {}, options = {}) => {
    try {
      const row = auditRow(event, actor, target, details, options)
      row.actorName ??= actor.type === 'user' ? await nameOf(db, 'user', row.actorId) : null
      if (target) row.targetName ??= await nameOf(db, target.type, row.targetId)
      await db.insert(auditLog).values(row)
    } catch (cause) {
      log.error('audit write failed', { event, error: cause })
    }
  }
}

export interface AuditQuery {
  event?: string
  outcome?: AuditOutcome
  actorId?: string
  /** An actor's name or id, part of it matching (case-insensitive). */
  actor?: string
  targetType?: string
  targetId?: string
  /** A target's name or id, part of it matching (case-insensitive). */
  target?: string
  tenantId?: number
  since?: Date
  until?: Date
  /** Rows with an id below this one (keyset paging, newest first). */
  beforeId?: number
  limit: number
}

const like = (text: string) => `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

function auditWhere(q: AuditQuery): SQL | undefined {
  const where: SQL[] = []
  if (q.event) where.push(eq(auditLog.event, q.event))
  if (q.outcome) where.push(eq(auditLog.outcome, q.outcome))
  if (q.actorId) where.push(eq(auditLog.actorId, q.actorId))
  if (q.actor)
    where.push(or(ilike(auditLog.actorName, like(q.actor)), ilike(auditLog.actorId, like(q.actor)))!)
  if (q.targetType) where.push(eq(auditLog.targetType, q.targetType))
  if (q.targetId) where.push(eq(auditLog.targetId, q.targetId))
  if (q.target)
    where.push(or(ilike(auditLog.targetName, like(q.target)), ilike(auditLog.targetId, like(q.target)))!)
  if (q.tenantId !== undefined) where.push(eq(auditLog.tenantId, q.tenantId))
  if (q.since) where.push(gte(auditLog.ts, q.since))
  if (q.until) where.push(lte(auditLog.ts, q.until))
  if (q.beforeId) where.push(lt(auditLog.id, q.beforeId))
  return where.length ? and(...where) : undefined
}

type AuditRow = typeof auditLog.$inferSelect

function publicEntry(r: AuditRow) {
  return {
    id: r.id,
    ts: r.ts.toISOString(),
    event: r.event,
    outcome: r.outcome,
    tenant_id: r.tenantId,
    actor: { type: r.actorType, id: r.actorId, name: r.actorName },
    target: r.targetType ? { type: r.targetType, id: r.targetId, name: r.targetName } : null,
    ip: r.ip,
    details: r.details,
  }
}
export type AuditEntry = ReturnType<typeof publicEntry>

export async function listAudit(db: Db, q: AuditQuery) {
  const rows = await db
    .select()
    .from(auditLog)
    .where(auditWhere(q))
    .orderBy(desc(auditLog.id))
    .limit(q.limit + 1)
  const page = rows.slice(0, q.limit)
  return {
    entries: page.map(publicEntry),
    next_before_id: rows.length > q.limit ? page[page.length - 1]!.id : null,
  }
}

/** Which recorded events count: one event code, optionally one outcome, target and address. */
export interface AuditEventFilter {
  event: string
  outcome?: AuditOutcome
  /** The entry's target id (a username for login failures). */
  targetId?: string
  /** The client address; null counts the entries recorded without one. */
  ip?: string | null
}

export interface RecentAuditEvents {
  n: number
  /** When the oldest counted event was recorded (ms since the epoch). */
  oldest: number | null
}

/** How many such events were recorded since `since`, and when the oldest of them was (ms). */
export async function recentAuditEvents(
  db: Db,
  filter: AuditEventFilter,
  since: Date,
): Promise<RecentAuditEvents> {
  const [row] = await db
    .select({ n: count(), oldest: min(auditLog.ts) })
    .from(auditLog)
    .where(
      and(
        eq(auditLog.event, filter.event),
        filter.outcome ? eq(auditLog.outcome, filter.outcome) : undefined,
        gte(auditLog.ts, since),
        filter.targetId !== undefined ? eq(auditLog.targetId, filter.targetId) : undefined,
        filter.ip === undefined
          ? undefined
          : filter.ip === null
            ? isNull(auditLog.ip)
            : eq(auditLog.ip, filter.ip),
      ),
    )
  return { n: row?.n ?? 0, oldest: row?.oldest ? new Date(row.oldest).getTime() : null }
}
