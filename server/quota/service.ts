// Quotas: per-user limits (else the tenant's default) on tokens and requests per UTC day and
// month, enforced before the proxy forwards. Limits are cached per instance (dropped on a
// cross-instance NOTIFY when an admin changes them), so a user without limits costs no database
// read; a limited user's call reserves its estimate out of this instance's lease on the shared
// counters (quota_counters), in memory while the lease covers it, and settles the tokens it used
// afterwards; a periodic sync moves settled usage to the shared rows and gives idle leases back.
// What each instance holds is also in its lease rows (leases.ts), so a dead one's goes back.
import { and, eq, gte, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { quotaCounters, quotaLimits, quotaUsage } from '../db/schema/index.ts'
import {
  type CounterKey,
  LEASE_RENEW_MS,
  LeaseLost,
  reclaimExpired,
  recordLease,
  renewAndSweep,
} from './leases.ts'
import { recordUsage, type UsageRecord, unwrittenUsage } from './ledger.ts'

export const QUOTA_CHANGED_CHANNEL = 'quota_limits_changed'
const LIMITS_CACHE_MS = 5000

export interface QuotaLimits {
  dailyTokenLimit: number | null
  monthlyTokenLimit: number | null
  dailyRequestLimit: number | null
  monthlyRequestLimit: number | null
}

/** Cached limits on this instance, dropped on a limit change anywhere (ctx.state.quotaLimits). */
export interface QuotaLimitCache {
  limits: Map<number, { until: number; value: Promise<QuotaLimits | null> }>
}

export function createQuotaLimitCache(ctx: AppContext): QuotaLimitCache {
  const created: QuotaLimitCache = { limits: new Map() }
  ctx.database
    .listen(QUOTA_CHANGED_CHANNEL, () => {
      created.limits.clear()
      ctx.state.quotaSynced.done = new Set()
      releaseAllLeases(ctx)
    })
    .then((unlisten) => ctx.onClose(unlisten))
    .catch((cause) => ctx.log.warn('cannot listen for quota changes', { error: cause }))
  return created
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

/** The user's effective limits, cached per instance (null: unlimited). */
export function cachedLimits(ctx: AppContext, userId: number, tenantId: number): Promise<QuotaLimits | null> {
  const s = ctx.state.quotaLimits
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

export type Period = 'day' | 'month'

/** A call's tokens held against this instance's leases until it settles. */
export interface QuotaHold {
  userId: number
  tokens: number
  leases: Lease[]
}

interface PeriodCheck {
  period: Period
  startsAt: Date
  tokenLimit: number | null
  requestLimit: number | null
}

/**
 * Counters this instance has synced from the ledger since the limits last changed
 * (ctx.state.quotaSynced); a change replaces the set, so a sync in flight marks the old one.
 */
export interface SyncedCounters {
  done: Set<string>
}

export const createSyncedCounters = (): SyncedCounters => ({ done: new Set() })

/** Creates or re-syncs a counter from the ledger (reservations in flight are kept). */
async function syncCounter(ctx: AppContext, userId: number, p: PeriodCheck) {
  const { done } = ctx.state.quotaSynced
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

/** When a quota period that began at `startsAt` ends: its limits reset then. */
export function periodEnd(period: Period, startsAt: Date): Date {
  return period === 'day'
    ? new Date(startsAt.getTime() + 86_400_000)
    : new Date(Date.UTC(startsAt.getUTCFullYear(), startsAt.getUTCMonth() + 1, 1))
}

function refusal(p: PeriodCheck, row: { tokens: number; reserved: number; requests: number } | undefined) {
  const tokens = row?.tokens ?? 0
  const reserved = row?.reserved ?? 0
  const day = p.period === 'day'
  const resets = periodEnd(p.period, p.startsAt).toISOString()
  const name = day ? 'Daily' : 'Monthly'
  const when = day ? 'today' : 'this month'
  if (p.requestLimit !== null && (row?.requests ?? 0) >= p.requestLimit)
    return `${name} request quota reached: ${fmt(row?.requests ?? 0)} of ${fmt(p.requestLimit)} requests made ${when}; it resets at ${resets}.`
  const inFlight = reserved > 0 ? ` (${fmt(reserved)} more held by calls in progress)` : ''
  return `${name} token quota reached: ${fmt(tokens)} of ${fmt(p.tokenLimit ?? 0)} tokens used ${when}${inFlight}; it resets at ${resets}.`
}

/**
 * This instance's share of one user's counter for one period. Every token and request it holds
 * is in the shared row's `reserved` / `requests` (so other instances see it as taken):
 * `available` (leased, not yet given to a call; negative when calls used more than their
 * estimate), `inFlight` (estimates of calls running), `unflushed` (tokens settled calls used,
 * not yet moved from `reserved` to `tokens`), and `requests` leased, not yet given to a call.
 */
interface Lease {
  userId: number
  period: Period
  startsAt: Date
  available: number
  inFlight: number
  unflushed: number
  requests: number
  /** Admitted a call since the last sync tick; an idle lease goes back to the shared budget. */
  active: boolean
  /** How many estimates the next grant may be (LEASE_MIN_CALLS..LEASE_MAX_CALLS). */
  calls: number
  /** This instance has a lease row for the counter (leases.ts), and the requests it last wrote. */
  recorded: boolean
  rowRequests: number
}

/**
 * A new lease is this many estimates (one database round trip per that many calls); each
 * renewal while the lease is busy doubles it, up to the most, and an idle lease starts over...
 */
const LEASE_MIN_CALLS = 16
const LEASE_MAX_CALLS = 1024
/** ...and at most this share of what is left, so near a limit other instances still get some. */
const LEASE_SHARE = 4
/** How often settled usage moves to the shared counters, and idle leases go back. */
const SYNC_INTERVAL_MS = 500

/** This instance's leases on the shared counters (ctx.state.quotaLeases). */
export interface LeaseState {
  leases: Map<string, Lease>
  /** Per user: the database work in progress (lease grants, syncs), one at a time. */
  locks: Map<number, Promise<unknown>>
  timer: ReturnType<typeof setInterval> | null
  /** When the lease rows were last renewed (the heartbeat runs from the sync tick). */
  renewedAt: number
}

export function createLeaseState(ctx: AppContext): LeaseState {
  const created: LeaseState = { leases: new Map(), locks: new Map(), timer: null, renewedAt: 0 }
  ctx.onClose(async () => {
    if (created.timer) clearInterval(created.timer)
    created.timer = null
    await syncLeases(ctx, true)
  })
  return created
}

const leaseId = (userId: number, period: Period, startsAt: Date) =>
  `${userId}|${period}|${startsAt.getTime()}`

function leaseFor(ctx: AppContext, userId: number, p: PeriodCheck): Lease {
  const s = ctx.state.quotaLeases
  const id = leaseId(userId, p.period, p.startsAt)
  let lease = s.leases.get(id)
  if (!lease) {
    lease = {
      userId,
      period: p.period,
      startsAt: p.startsAt,
      available: 0,
      inFlight: 0,
      unflushed: 0,
      requests: 0,
      active: true,
      calls: LEASE_MIN_CALLS,
      recorded: false,
      rowRequests: 0,
    }
    s.leases.set(id, lease)
  }
  startQuotaSync(ctx)
  return lease
}

/**
 * Starts the periodic sync (at startup, so the heartbeat's sweep reclaims what dead instances
 * left even before this one serves a limited user; reserving starts it too).
 */
export function startQuotaSync(ctx: AppContext): void {
  const s = ctx.state.quotaLeases
  if (s.timer) return
  s.timer = setInterval(() => void syncLeases(ctx, false), SYNC_INTERVAL_MS)
  ;(s.timer as { unref?: () => void }).unref?.()
}

/**
 * Forgets a lease whose row another instance reclaimed (this instance went without a heartbeat
 * for LEASE_TTL_MS): the counter no longer has what it held, so the next call starts a new one.
 * Calls still holding the old one settle into it, uncounted on the counter (the ledger has them).
 */
function dropLease(ctx: AppContext, lease: Lease): void {
  const s = ctx.state.quotaLeases
  const id = leaseId(lease.userId, lease.period, lease.startsAt)
  if (s.leases.get(id) === lease) s.leases.delete(id)
  ctx.log.warn('quota lease was reclaimed by another instance; starting a new one', {
    user_id: lease.userId,
    period: lease.period,
  })
}

/** Runs `work` after the user's earlier database work (so lease arithmetic never interleaves). */
function withUserLock<T>(ctx: AppContext, userId: number, work: () => Promise<T>): Promise<T> {
  const locks = ctx.state.quotaLeases.locks
  const previous = locks.get(userId) ?? Promise.resolve()
  const next = previous.then(work, work)
  const settled = next.catch(() => {})
  locks.set(userId, settled)
  void settled.then(() => {
    if (locks.get(userId) === settled) locks.delete(userId)
  })
  return next
}

const sameCounter = (a: CounterKey, b: CounterKey) =>
  a.userId === b.userId && a.period === b.period && a.startsAt.getTime() === b.startsAt.getTime()

const counterWhere = (l: { userId: number; period: Period; startsAt: Date }) =>
  and(
    eq(quotaCounters.userId, l.userId),
    eq(quotaCounters.period, l.period),
    eq(quotaCounters.startsAt, l.startsAt),
  )

/** Tokens this lease holds in the shared row's `reserved` (settling a call keeps the sum). */
const heldBy = (lease: Lease) => lease.available + lease.inFlight + lease.unflushed

/**
 * Moves a lease's settled usage from `reserved` to `tokens` on the shared row and, with
 * `release`, gives back what it holds unused (tokens and requests); the lease row follows in the
 * same transaction. A lease found reclaimed is dropped. Caller holds the user lock.
 */
async function flushLease(ctx: AppContext, lease: Lease, release: boolean) {
  const used = lease.unflushed
  const back = release ? lease.available : 0
  const requests = release ? lease.requests : 0
  const rowRequests = lease.requests - requests
  const staleRow = lease.recorded && rowRequests !== lease.rowRequests
  if (!used && !back && !requests && !staleRow) return
  const rowTokens = heldBy(lease) - used - back
  let recorded: boolean
  try {
    recorded = await ctx.db.transaction(async (tx) => {
      await tx
        .update(quotaCounters)
        .set({
          tokens: sql`${quotaCounters.tokens} + ${used}`,
          reserved: sql`greatest(${quotaCounters.reserved} - ${used + back}, 0)`,
          requests: sql`greatest(${quotaCounters.requests} - ${requests}, 0)`,
        })
        .where(counterWhere(lease))
      return recordLease(ctx, tx, lease, lease.recorded, rowTokens, rowRequests)
    })
  } catch (error) {
    if (!(error instanceof LeaseLost)) throw error
    dropLease(ctx, lease)
    return
  }
  lease.unflushed -= used
  lease.available -= back
  lease.requests -= requests
  lease.recorded = recorded
  lease.rowRequests = rowRequests
}

/**
 * The periodic sync (and the last one at close): usage to the shared rows, idle leases back;
 * every LEASE_RENEW_MS also the heartbeat on this instance's lease rows and the sweep of dead
 * instances' expired ones.
 */
async function syncLeases(ctx: AppContext, all: boolean): Promise<void> {
  const s = ctx.peek('quotaLeases')
  if (!s) return
  const now = ctx.now().getTime()
  if (!all && now - s.renewedAt >= LEASE_RENEW_MS) {
    s.renewedAt = now
    await renewAndSweep(ctx).catch((error) => ctx.log.error('quota lease heartbeat failed', { error }))
  }
  const byUser = new Map<number, Lease[]>()
  for (const lease of s.leases.values()) {
    const list = byUser.get(lease.userId) ?? []
    list.push(lease)
    byUser.set(lease.userId, list)
  }
  await Promise.all(
    [...byUser].map(([userId, leases]) =>
      withUserLock(ctx, userId, async () => {
        for (const lease of leases) {
          const idle = all || !lease.active
          lease.active = false
          if (idle) lease.calls = LEASE_MIN_CALLS
          try {
            await flushLease(ctx, lease, idle)
          } catch (error) {
            ctx.log.error('quota sync failed', { user_id: userId, error })
            continue
          }
          const empty = !lease.available && !lease.inFlight && !lease.unflushed && !lease.requests
          if (idle && empty) s.leases.delete(leaseId(lease.userId, lease.period, lease.startsAt))
        }
      }),
    ),
  )
}

/** Gives back every lease this instance holds (after a limit change). */
function releaseAllLeases(ctx: AppContext): void {
  if (ctx.peek('quotaLeases')) void syncLeases(ctx, true)
}

/** The fast path: every period's lease covers the call; nothing leaves the process. */
function takeLocally(leases: Lease[], checks: PeriodCheck[], estimate: number): boolean {
  for (const [i, lease] of leases.entries()) {
    if (lease.available < estimate) return false
    if (checks[i]!.requestLimit !== null && lease.requests < 1) return false
  }
  for (const [i, lease] of leases.entries()) {
    lease.available -= estimate
    lease.inFlight += estimate
    if (checks[i]!.requestLimit !== null) lease.requests -= 1
    lease.active = true
  }
  return true
}

/**
 * The slow path, one transaction with the rows locked: what expired leases of dead instances
 * held goes back, this instance's unused lease and settled usage are folded back, and the call is admitted while what everyone holds and used is under
 * the limit (as before leases: concurrent calls on any number of instances overshoot by at most
 * one reservation). An admitted call takes its estimate plus a new lease: at most what is left
 * (or just the estimate when less is left), so leases never oversell the limit.
 */
async function leaseFromCounters(
  ctx: AppContext,
  leases: Lease[],
  checks: PeriodCheck[],
  estimate: number,
): Promise<PeriodCheck | null> {
  let failed: PeriodCheck | null = null
  const applied: Array<() => void> = []
  try {
    await ctx.db.transaction(async (tx) => {
      for (const [i, lease] of leases.entries()) {
        const p = checks[i]!
        const [locked] = await tx.select().from(quotaCounters).where(counterWhere(lease)).for('update')
        const reclaimed = await reclaimExpired(ctx, tx, lease)
        const row = locked && {
          ...locked,
          reserved: Math.max(locked.reserved - reclaimed.tokens, 0),
          requests: Math.max(locked.requests - reclaimed.requests, 0),
        }
        const used = lease.unflushed
        const back = lease.available
        const backRequests = lease.requests
        const held = (row?.tokens ?? 0) + (row?.reserved ?? 0) - back
        const requestsHeld = (row?.requests ?? 0) - backRequests
        if (
          (p.tokenLimit !== null && held >= p.tokenLimit) ||
          (p.requestLimit !== null && requestsHeld >= p.requestLimit)
        ) {
          failed = p
          throw new Refused()
        }
        const calls = lease.calls
        const left = p.tokenLimit === null ? estimate * calls : p.tokenLimit - held
        const grant = Math.max(estimate, Math.min(estimate * calls, Math.floor(left / LEASE_SHARE)))
        const requestGrant =
          p.requestLimit === null
            ? 1
            : Math.max(1, Math.min(calls, Math.floor((p.requestLimit - requestsHeld) / LEASE_SHARE)))
        await tx
          .update(quotaCounters)
          .set({
            tokens: sql`${quotaCounters.tokens} + ${used}`,
            reserved: sql`greatest(${quotaCounters.reserved} - ${used + back} + ${grant}, 0)`,
            requests: sql`greatest(${quotaCounters.requests} - ${backRequests} + ${requestGrant}, 0)`,
          })
          .where(counterWhere(lease))
        const rowRequests = lease.requests + requestGrant - backRequests - 1
        const recorded = await recordLease(
          ctx,
          tx,
          lease,
          lease.recorded,
          heldBy(lease) + grant - back - used,
          rowRequests,
        )
        applied.push(() => {
          lease.recorded = recorded
          lease.rowRequests = rowRequests
          lease.unflushed -= used
          lease.available += grant - back - estimate
          lease.inFlight += estimate
          lease.requests += requestGrant - backRequests - 1
          // Renewed while busy: the next lease lasts twice as many calls.
          if (lease.active) lease.calls = Math.min(LEASE_MAX_CALLS, calls * 2)
          lease.active = true
        })
      }
    })
  } catch (error) {
    if (!(error instanceof Refused)) throw error
    return failed
  }
  for (const apply of applied) apply()
  return null
}

/**
 * Admits one call or says which limit stops it. Users without limits cost nothing. With limits,
 * the call's estimate comes out of this instance's lease on the user's shared counters when the
 * lease covers it (no database round trip); otherwise one transaction folds the lease back and
 * takes a new one (leaseFromCounters). settleQuota gives the estimate back and counts the use.
 */
export async function reserveQuota(
  ctx: AppContext,
  userId: number,
  tenantId: number,
  estimate: number,
): Promise<{ refusal: string; resetsAt: string } | { hold: QuotaHold | null }> {
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
  let leases = periods.map((p) => leaseFor(ctx, userId, p))
  const hold = (): { hold: QuotaHold } => ({ hold: { userId, tokens: estimate, leases } })
  if (takeLocally(leases, periods, estimate)) return hold()
  return withUserLock(ctx, userId, async () => {
    // A call that waited for the lock may find the lease the one before it took.
    if (takeLocally(leases, periods, estimate)) return hold()
    for (const p of periods) await syncCounter(ctx, userId, p)
    let failed: PeriodCheck | null = null
    for (let attempt = 0; ; attempt++) {
      try {
        failed = await leaseFromCounters(ctx, leases, periods, estimate)
        break
      } catch (error) {
        // A lease of ours was reclaimed (no heartbeat for LEASE_TTL_MS): drop it, take a new one.
        if (!(error instanceof LeaseLost) || attempt >= periods.length) throw error
        for (const lease of leases) if (lease.recorded && sameCounter(lease, error.key)) dropLease(ctx, lease)
        leases = periods.map((p) => leaseFor(ctx, userId, p))
      }
    }
    if (!failed) return hold()
    // Refused: hand back what this instance holds, so the numbers in the refusal are the real ones.
    for (const lease of leases) await flushLease(ctx, lease, true)
    const p: PeriodCheck = failed
    const [row] = await ctx.db
      .select()
      .from(quotaCounters)
      .where(counterWhere(leaseFor(ctx, userId, p)))
    return { refusal: refusal(p, row), resetsAt: periodEnd(p.period, p.startsAt).toISOString() }
  })
}

/** Gives a call's estimate back to its leases and counts what it used (synced to the shared counters shortly). */
export function settleQuota(_ctx: AppContext, hold: QuotaHold, used: number): void {
  for (const lease of hold.leases) {
    lease.inFlight -= hold.tokens
    lease.available += hold.tokens - used
    lease.unflushed += used
  }
}

/** Records a proxied request in the ledger. */
export function chargeUsage(ctx: AppContext, record: UsageRecord): void {
  recordUsage(ctx, record)
}

/** Drops cached limits here and on every other instance (after an admin change). */
export async function quotaLimitsChanged(ctx: AppContext): Promise<void> {
  ctx.state.quotaLimits.limits.clear()
  ctx.state.quotaSynced.done = new Set()
  releaseAllLeases(ctx)
  await ctx.database.notify(QUOTA_CHANGED_CHANNEL, '')
}
