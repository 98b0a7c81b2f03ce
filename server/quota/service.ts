// Quotas: per-user limits (else the tenant's default) on tokens and requests per UTC day and
// month, checked before the proxy forwards. Limits and running totals are cached per instance
// (limits drop on a cross-instance NOTIFY when an admin changes them; totals are re-read from the
// ledger every few seconds and bumped locally in between), so the hot path does no database read.
import { and, eq, gte, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { quotaLimits, quotaUsage } from '../db/schema/index.ts'
import { recordUsage, type UsageRecord, unwrittenUsage } from './ledger.ts'

export const QUOTA_CHANGED_CHANNEL = 'quota_limits_changed'
const LIMITS_CACHE_MS = 5000
const TOTALS_CACHE_MS = 2000

export interface QuotaLimits {
  dailyTokenLimit: number | null
  monthlyTokenLimit: number | null
  dailyRequestLimit: number | null
  monthlyRequestLimit: number | null
}

interface Totals {
  loaded: number
  dayStart: number
  dayTokens: number
  dayRequests: number
  monthTokens: number
  monthRequests: number
}

interface QuotaState {
  limits: Map<number, { until: number; value: Promise<QuotaLimits | null> }>
  totals: Map<number, Promise<Totals>>
}

const states = new WeakMap<AppContext, QuotaState>()

function state(ctx: AppContext): QuotaState {
  let s = states.get(ctx)
  if (s) return s
  const created: QuotaState = { limits: new Map(), totals: new Map() }
  s = created
  states.set(ctx, created)
  ctx.database
    .listen(QUOTA_CHANGED_CHANNEL, () => created.limits.clear())
    .then((unlisten) => ctx.onClose(unlisten))
    .catch((cause) => ctx.log.warn('cannot listen for quota changes', { error: cause }))
  return s
}

export function dayStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), at.getUTCDate()))
}
export function monthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1))
}

/** The user's own limits, else the tenant default, else null (unlimited). */
export async function loadEffectiveLimits(ctx: AppContext, userId: number, tenantId: number) {
  const rows = await ctx.db
    .select()
    .from(quotaLimits)
    .where(
      sql`(${quotaLimits.scope} = 'user' and ${quotaLimits.subjectId} = ${userId}) or (${quotaLimits.scope} = 'tenant' and ${quotaLimits.subjectId} = ${tenantId})`,
    )
  const row = rows.find((r) => r.scope === 'user') ?? rows[0]
  if (!row) return null
  const { dailyTokenLimit, monthlyTokenLimit, dailyRequestLimit, monthlyRequestLimit } = row
  return { dailyTokenLimit, monthlyTokenLimit, dailyRequestLimit, monthlyRequestLimit }
}

function cachedLimits(ctx: AppContext, userId: number, tenantId: number): Promise<QuotaLimits | null> {
  const s = state(ctx)
  const now = Date.now()
  const hit = s.limits.get(userId)
  if (hit && hit.until > now) return hit.value
  const value = loadEffectiveLimits(ctx, userId, tenantId)
  s.limits.set(userId, { until: now + LIMITS_CACHE_MS, value })
  value.catch(() => s.limits.delete(userId))
  return value
}

/** Token and request totals of a user since the start of the UTC month and day. */
export async function usedSince(ctx: AppContext, userId: number, at: Date) {
  const day = dayStart(at)
  const [row] = await ctx.db
    .select({
      monthTokens: sql<string>`coalesce(sum(${quotaUsage.inputTokens} + ${quotaUsage.outputTokens}), 0)`,
      monthRequests: sql<string>`coalesce(sum(${quotaUsage.requests}), 0)`,
      dayTokens: sql<string>`coalesce(sum(${quotaUsage.inputTokens} + ${quotaUsage.outputTokens}) filter (where ${quotaUsage.ts} >= ${day.toISOString()}), 0)`,
      dayRequests: sql<string>`coalesce(sum(${quotaUsage.requests}) filter (where ${quotaUsage.ts} >= ${day.toISOString()}), 0)`,
    })
    .from(quotaUsage)
    .where(and(eq(quotaUsage.userId, userId), gte(quotaUsage.ts, monthStart(at))))
  const totals = {
    dayTokens: Number(row?.dayTokens ?? 0),
    dayRequests: Number(row?.dayRequests ?? 0),
    monthTokens: Number(row?.monthTokens ?? 0),
    monthRequests: Number(row?.monthRequests ?? 0),
  }
  for (const r of unwrittenUsage(ctx))
    if (r.userId === userId) addTo(totals, r, day.getTime(), monthStart(at).getTime())
  return totals
}

function addTo(
  totals: Omit<Totals, 'loaded' | 'dayStart'>,
  r: UsageRecord,
  day: number,
  month: number,
  requests = r.requests,
) {
  const t = r.ts.getTime()
  const tokens = r.inputTokens + r.outputTokens
  if (t >= month) {
    totals.monthTokens += tokens
    totals.monthRequests += requests
  }
  if (t >= day) {
    totals.dayTokens += tokens
    totals.dayRequests += requests
  }
}

function cachedTotals(ctx: AppContext, userId: number, at: Date): Promise<Totals> {
  const s = state(ctx)
  const day = dayStart(at).getTime()
  const hit = s.totals.get(userId)
  const fresh = hit?.then((t) => t.dayStart === day && Date.now() - t.loaded < TOTALS_CACHE_MS)
  const load = () => {
    const value = usedSince(ctx, userId, at).then((t) => ({ ...t, loaded: Date.now(), dayStart: day }))
    s.totals.set(userId, value)
    value.catch(() => s.totals.delete(userId))
    return value
  }
  if (!hit || !fresh) return load()
  return fresh.then((ok) => (ok ? hit : load()))
}

const fmt = (n: number) => n.toLocaleString('en-US')

/**
 * Null when the user may make one more request now (and counts it at once, so concurrent requests
 * cannot all slip under a request limit); else a sentence saying which limit is reached.
 */
export async function checkQuota(ctx: AppContext, userId: number, tenantId: number): Promise<string | null> {
  const limits = await cachedLimits(ctx, userId, tenantId)
  if (!limits) return null
  const at = ctx.now()
  const t = await cachedTotals(ctx, userId, at)
  const tomorrow = new Date(dayStart(at).getTime() + 86_400_000).toISOString()
  const nextMonth = new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1)).toISOString()
  const checks: Array<[number | null, number, string, string]> = [
    [limits.dailyTokenLimit, t.dayTokens, 'Daily token quota', `tokens used today; it resets at ${tomorrow}`],
    [
      limits.dailyRequestLimit,
      t.dayRequests,
      'Daily request quota',
      `requests made today; it resets at ${tomorrow}`,
    ],
    [
      limits.monthlyTokenLimit,
      t.monthTokens,
      'Monthly token quota',
      `tokens used this month; it resets at ${nextMonth}`,
    ],
    [
      limits.monthlyRequestLimit,
      t.monthRequests,
      'Monthly request quota',
      `requests made this month; it resets at ${nextMonth}`,
    ],
  ]
  for (const [limit, used, name, tail] of checks) {
    if (limit !== null && used >= limit) return `${name} reached: ${fmt(used)} of ${fmt(limit)} ${tail}.`
  }
  t.dayRequests++
  t.monthRequests++
  return null
}

/** Records a proxied request in the ledger, and its tokens in this instance's cached totals. */
export function chargeUsage(ctx: AppContext, record: UsageRecord): void {
  recordUsage(ctx, record)
  const hit = states.get(ctx)?.totals.get(record.userId)
  hit?.then(
    (t) => addTo(t, record, t.dayStart, monthStart(new Date(t.dayStart)).getTime(), 0),
    () => {},
  )
}

/** Drops cached limits here and on every other instance (after an admin change). */
export async function quotaLimitsChanged(ctx: AppContext): Promise<void> {
  state(ctx).limits.clear()
  await ctx.database.notify(QUOTA_CHANGED_CHANNEL, '')
}
