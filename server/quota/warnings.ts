// The 80% warning: when a user's proxied call passes 80% of one of their quota limits, the
// session that made it is told (a 'warning' alert), once per limit and period, so a person sees
// the limit coming before calls are refused. Usage is the ledger's (quota_usage plus this
// instance's unwritten records, as usedSince reads it), read at most every WARNING_RECHECK_MS
// per user and counted on in memory in between, so a busy user costs no query per call. Which
// warnings were given is a row per (user, period, start, limit) in quota_warnings, so several
// instances still give each one once.
import type { AppContext } from '../context/index.ts'
import { type QuotaWarningLimit, quotaWarnings } from '../db/schema/index.ts'
import { cachedLimits, dayStart, monthStart, type Period, periodEnd, usedSince } from './service.ts'

/** The share of a limit past which the user is warned. */
export const QUOTA_WARNING_SHARE = 0.8
/** How stale the usage a warning is judged on may be (other instances' calls show up then). */
export const WARNING_RECHECK_MS = 2000
/** Warnings this instance remembers having settled, before it forgets the oldest (they are in the table). */
const MAX_REMEMBERED = 10_000

type Totals = Awaited<ReturnType<typeof usedSince>>

export interface QuotaWarningState {
  /** Per user: usage as last read (and counted on since), and when it was read. */
  tallies: Map<number, { readAt: number; day: number; totals: Totals }>
  /** Warnings known to be given (here or elsewhere): `${user}|${period}|${start}|${limit}`. */
  given: Set<string>
}

export function createQuotaWarningState(): QuotaWarningState {
  return { tallies: new Map(), given: new Set() }
}

export interface QuotaWarning {
  message: string
  /** When the limit resets (ISO). */
  resetsAt: string
}

const fmt = (n: number) => n.toLocaleString('en-US')

async function currentUsage(ctx: AppContext, userId: number, tokens: number): Promise<Totals> {
  const tallies = ctx.state.quotaWarnings.tallies
  const now = ctx.now()
  const day = dayStart(now).getTime()
  const hit = tallies.get(userId)
  if (hit && hit.day === day && now.getTime() - hit.readAt < WARNING_RECHECK_MS) {
    hit.totals.dayTokens += tokens
    hit.totals.monthTokens += tokens
    hit.totals.dayRequests += 1
    hit.totals.monthRequests += 1
    return hit.totals
  }
  // Read after the call was charged: the totals include it.
  const totals = await usedSince(ctx, userId, now)
  tallies.set(userId, { readAt: now.getTime(), day, totals })
  return totals
}

/**
 * After a charged call of a limited user: the warnings it is the first to earn (at most one per
 * limit and period, across instances). `tokens` is what the call used.
 */
export async function quotaWarningsAfter(
  ctx: AppContext,
  call: { userId: number; tenantId: number; sessionId: string | null; tokens: number },
): Promise<QuotaWarning[]> {
  const limits = await cachedLimits(ctx, call.userId, call.tenantId)
  if (!limits) return []
  const used = await currentUsage(ctx, call.userId, call.tokens)
  const now = ctx.now()
  const checks: Array<{ period: Period; limit: QuotaWarningLimit; max: number | null; used: number }> = [
    { period: 'day', limit: 'tokens', max: limits.dailyTokenLimit, used: used.dayTokens },
    { period: 'day', limit: 'requests', max: limits.dailyRequestLimit, used: used.dayRequests },
    { period: 'month', limit: 'tokens', max: limits.monthlyTokenLimit, used: used.monthTokens },
    { period: 'month', limit: 'requests', max: limits.monthlyRequestLimit, used: used.monthRequests },
  ]
  const given = ctx.state.quotaWarnings.given
  const earned: QuotaWarning[] = []
  for (const c of checks) {
    if (c.max === null || c.max <= 0 || c.used < c.max * QUOTA_WARNING_SHARE) continue
    const startsAt = c.period === 'day' ? dayStart(now) : monthStart(now)
    const key = `${call.userId}|${c.period}|${startsAt.getTime()}|${c.limit}`
    if (given.has(key)) continue
    const claimed = await ctx.db
      .insert(quotaWarnings)
      .values({
        userId: call.userId,
        period: c.period,
        startsAt,
        limit: c.limit,
        sessionId: call.sessionId,
        warnedAt: now,
      })
      .onConflictDoNothing()
      .returning({ userId: quotaWarnings.userId })
    if (given.size >= MAX_REMEMBERED) given.clear()
    given.add(key)
    if (!claimed.length) continue
    const resetsAt = periodEnd(c.period, startsAt).toISOString()
    const share = Math.min(100, Math.floor((c.used / c.max) * 100))
    const name = c.period === 'day' ? 'daily' : 'monthly'
    const what = c.limit === 'tokens' ? 'tokens used' : 'requests made'
    const when = c.period === 'day' ? 'today' : 'this month'
    earned.push({
      message: `${share}% of your ${name} ${c.limit === 'tokens' ? 'token' : 'request'} quota is used: ${fmt(c.used)} of ${fmt(c.max)} ${what} ${when}; it resets at ${resetsAt}.`,
      resetsAt,
    })
  }
  return earned
}
