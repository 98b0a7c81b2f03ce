// Quotas: per-user limits (else the tenant's default) on tokens and requests per UTC day and
// month, enforced before the proxy forwards. Limits are cached per instance (dropped on a
// cross-instance NOTIFY when an admin changes them), so a user without limits costs no database
// read; a limited user's call reserves its estimate on shared counters (quota_counters) and
// settles the tokens it used afterwards.
import { and, eq, gte, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { quotaCounters, quotaLimits, quotaUsage } from '../db/schema/index.ts'
import { recordUsage, type UsageRecord, unwrittenUsage } from './ledger.ts'

export const QUOTA_CHANGED_CHANNEL = 'quota_limits_changed'
const LIMITS_CACHE_MS = 5000

export interface QuotaLimits {
  dailyTokenLimit: number | null
  monthlyTokenLimit: number | null
  dailyRequestLimit: number | null
  monthlyRequestLimit: number | null
}

interface QuotaState {
  limits: Map<number, { until: number; value: Promise<QuotaLimits | null> }>
}

const states = new WeakMap<AppContext, QuotaState>()

function state(ctx: AppContext): QuotaState {
  let s = states.get(ctx)
  if (s) return s
  const created: QuotaState = { limits: new Map() }
  s = created
  states.set(ctx, created)
  ctx.database
    .listen(QUOTA_CHANGED_CHANNEL, () => {
      created.limits.clear()
      synced.delete(ctx)
    })
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
  const now = ctx.now().getTime()
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
  totals: { dayTokens: number; dayRequests: number; monthTokens: number; monthRequests: number },
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

const fmt = (n: number) => n.toLocaleString('en-US')

type Period = 'day' | 'month'

/** A call's tokens held against the user's counters until it settles. */
export interface QuotaHold {
  userId: number
  tokens: number
  periods: Array<{ period: Period; startsAt: Date }>
}

interface PeriodCheck {
  period: Period
  startsAt: Date
  tokenLimit: number | null
  requestLimit: number | null
}

/** Counters this instance has synced from the ledger since the limits last changed. */
const synced = new WeakMap<AppContext, Set<string>>()
/** Settlements in flight per user: a reservation waits for them, so a finished call is counted. */
const settling = new WeakMap<AppContext, Map<number, Promise<unknown>>>()

/** Creates or re-syncs a counter from the ledger (reservations in flight are kept). */
async function syncCounter(ctx: AppContext, userId: number, p: PeriodCheck) {
  let done = synced.get(ctx)
  if (!done) {
    done = new Set()
    synced.set(ctx, done)
  }
  const id = `${userId}|${p.period}|${p.startsAt.getTime()}`
  if (done.has(id)) return
  const used = await usedSince(ctx, userId, ctx.now())
  const tokens = p.period === 'day' ? used.dayTokens : used.monthTokens
  const requests = p.period === 'day' ? used.dayRequests : used.monthRequests
  await ctx.db
    .insert(quotaCounters)
    .values({ userId, period: p.period, startsAt: p.startsAt, tokens, requests, reserved: 0 })
    .onConflictDoUpdate({
      target: [quotaCounters.userId, quotaCounters.period, quotaCounters.startsAt],
      set: { tokens, requests },
    })
  done.add(id)
}

class Refused extends Error {}

function refusal(p: PeriodCheck, row: { tokens: number; reserved: number; requests: number } | undefined) {
  const tokens = row?.tokens ?? 0
  const reserved = row?.reserved ?? 0
  const day = p.period === 'day'
  const resets = day
    ? new Date(p.startsAt.getTime() + 86_400_000).toISOString()
    : new Date(Date.UTC(p.startsAt.getUTCFullYear(), p.startsAt.getUTCMonth() + 1, 1)).toISOString()
  const name = day ? 'Daily' : 'Monthly'
  const when = day ? 'today' : 'this month'
  if (p.requestLimit !== null && (row?.requests ?? 0) >= p.requestLimit)
    return `${name} request quota reached: ${fmt(row?.requests ?? 0)} of ${fmt(p.requestLimit)} requests made ${when}; it resets at ${resets}.`
  const inFlight = reserved > 0 ? ` (${fmt(reserved)} more held by calls in progress)` : ''
  return `${name} token quota reached: ${fmt(tokens)} of ${fmt(p.tokenLimit ?? 0)} tokens used ${when}${inFlight}; it resets at ${resets}.`
}

/**
 * Admits one call or says which limit stops it. Users without limits cost nothing. With limits,
 * the call's estimate is reserved on the shared counters in one conditional UPDATE per period
 * (admitted while used + reserved is under the limit), so concurrent calls on any number of
 * instances overshoot a limit by at most one reservation; settleQuota releases it.
 */
export async function reserveQuota(
  ctx: AppContext,
  userId: number,
  tenantId: number,
  estimate: number,
): Promise<{ refusal: string } | { hold: QuotaHold | null }> {
  const limits = await cachedLimits(ctx, userId, tenantId)
  if (!limits) return { hold: null }
  const at = ctx.now()
  const periods: PeriodCheck[] = []
  if (limits.dailyTokenLimit !== null || limits.dailyRequestLimit !== null)
    periods.push({
      period: 'day',
      startsAt: dayStart(at),
      tokenLimit: limits.dailyTokenLimit,
      requestLimit: limits.dailyRequestLimit,
    })
  if (limits.monthlyTokenLimit !== null || limits.monthlyRequestLimit !== null)
    periods.push({
      period: 'month',
      startsAt: monthStart(at),
      tokenLimit: limits.monthlyTokenLimit,
      requestLimit: limits.monthlyRequestLimit,
    })
  if (!periods.length) return { hold: null }
  await settling.get(ctx)?.get(userId)
  for (const p of periods) await syncCounter(ctx, userId, p)
  let failed: PeriodCheck | null = null
  try {
    await ctx.db.transaction(async (tx) => {
      for (const p of periods) {
        const rows = await tx
          .update(quotaCounters)
          .set({
            reserved: sql`${quotaCounters.reserved} + ${estimate}`,
            requests: sql`${quotaCounters.requests} + 1`,
          })
          .where(
            and(
              eq(quotaCounters.userId, userId),
              eq(quotaCounters.period, p.period),
              eq(quotaCounters.startsAt, p.startsAt),
              p.tokenLimit === null
                ? undefined
                : sql`${quotaCounters.tokens} + ${quotaCounters.reserved} < ${p.tokenLimit}`,
              p.requestLimit === null ? undefined : sql`${quotaCounters.requests} < ${p.requestLimit}`,
            ),
          )
          .returning({ tokens: quotaCounters.tokens })
        if (!rows.length) {
          failed = p
          throw new Refused()
        }
      }
    })
  } catch (error) {
    if (!(error instanceof Refused)) throw error
  }
  if (failed) {
    const p: PeriodCheck = failed
    const [row] = await ctx.db
      .select()
      .from(quotaCounters)
      .where(
        and(
          eq(quotaCounters.userId, userId),
          eq(quotaCounters.period, p.period),
          eq(quotaCounters.startsAt, p.startsAt),
        ),
      )
    return { refusal: refusal(p, row) }
  }
  return {
    hold: {
      userId,
      tokens: estimate,
      periods: periods.map(({ period, startsAt }) => ({ period, startsAt })),
    },
  }
}

/** Releases a call's reservation and adds the tokens it used, on the shared counters. */
export function settleQuota(ctx: AppContext, hold: QuotaHold, used: number): void {
  let byUser = settling.get(ctx)
  if (!byUser) {
    byUser = new Map()
    settling.set(ctx, byUser)
  }
  const map = byUser
  const previous = map.get(hold.userId) ?? Promise.resolve()
  const next = previous
    .then(async () => {
      for (const p of hold.periods)
        await ctx.db
          .update(quotaCounters)
          .set({
            reserved: sql`greatest(${quotaCounters.reserved} - ${hold.tokens}, 0)`,
            tokens: sql`${quotaCounters.tokens} + ${used}`,
          })
          .where(
            and(
              eq(quotaCounters.userId, hold.userId),
              eq(quotaCounters.period, p.period),
              eq(quotaCounters.startsAt, p.startsAt),
            ),
          )
    })
    .catch((error) => ctx.log.error('quota settlement failed', { user_id: hold.userId, error }))
  map.set(hold.userId, next)
  void next.then(() => {
    if (map.get(hold.userId) === next) map.delete(hold.userId)
  })
}

/** Records a proxied request in the ledger. */
export function chargeUsage(ctx: AppContext, record: UsageRecord): void {
  recordUsage(ctx, record)
}

/** Drops cached limits here and on every other instance (after an admin change). */
export async function quotaLimitsChanged(ctx: AppContext): Promise<void> {
  state(ctx).limits.clear()
  synced.delete(ctx)
  await ctx.database.notify(QUOTA_CHANGED_CHANNEL, '')
}
