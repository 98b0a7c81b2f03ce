// Lease rows: what each server instance holds in the shared quota counters, so that what a dead
// instance held (killed without its shutdown, which gives leases back) goes back to the budget
// once its heartbeat stops, instead of staying in `reserved` until the period ends. Every
// change to what an instance holds on a counter is written here in the same transaction, with
// the counter row locked first (the one lock order, so reclaiming never deadlocks a reservation).
import { and, eq, lt, ne, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { quotaCounters, quotaLeases } from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'

/** A lease row expires this long after the instance last renewed it... */
export const LEASE_TTL_MS = 30_000
/** ...and a live instance renews its rows (and sweeps expired ones of others) this often. */
export const LEASE_RENEW_MS = 10_000
/** Expired rows reclaimed per sweep (the next reservation on a counter reclaims the rest). */
const SWEEP_BATCH = 100

export interface CounterKey {
  userId: number
  period: 'day' | 'month'
  startsAt: Date
}

/** The lease row is gone: it expired and another instance reclaimed what it held. */
export class LeaseLost extends Error {
  constructor(readonly key: CounterKey) {
    super(`quota lease of user ${key.userId} (${key.period}) was reclaimed`)
  }
}

/** The statements these helpers run, in the caller's transaction (drizzle's own or ctx.transaction's). */
type Queries = Pick<Tx, 'select' | 'insert' | 'update' | 'delete'>

const counterWhere = (k: CounterKey) =>
  and(
    eq(quotaCounters.userId, k.userId),
    eq(quotaCounters.period, k.period),
    eq(quotaCounters.startsAt, k.startsAt),
  )

const leaseWhere = (ctx: AppContext, k: CounterKey) =>
  and(
    eq(quotaLeases.instanceId, ctx.id),
    eq(quotaLeases.userId, k.userId),
    eq(quotaLeases.period, k.period),
    eq(quotaLeases.startsAt, k.startsAt),
  )

const expiry = (ctx: AppContext) => new Date(ctx.now().getTime() + LEASE_TTL_MS)

/**
 * Writes what this instance now holds on a counter (caller's transaction, counter row locked).
 * `recorded` says a row should exist: when it does not, the lease expired and was reclaimed, and
 * LeaseLost rolls the caller's transaction back (the counter no longer has what it held).
 * Returns whether a row exists afterwards.
 */
export async function recordLease(
  ctx: AppContext,
  tx: Queries,
  key: CounterKey,
  recorded: boolean,
  tokens: number,
  requests: number,
): Promise<boolean> {
  const empty = tokens <= 0 && requests <= 0
  if (recorded) {
    const rows = empty
      ? await tx.delete(quotaLeases).where(leaseWhere(ctx, key)).returning({ id: quotaLeases.instanceId })
      : await tx
          .update(quotaLeases)
          .set({ tokens, requests, expiresAt: expiry(ctx) })
          .where(leaseWhere(ctx, key))
          .returning({ id: quotaLeases.instanceId })
    if (!rows.length) throw new LeaseLost(key)
    return !empty
  }
  if (empty) return false
  await tx
    .insert(quotaLeases)
    .values({ instanceId: ctx.id, ...key, tokens, requests, expiresAt: expiry(ctx) })
  return true
}

/**
 * Subtracts what expired leases of other instances hold from a counter and deletes them
 * (caller's transaction, counter row locked). Returns what went back.
 */
export async function reclaimExpired(ctx: AppContext, tx: Queries, key: CounterKey) {
  const gone = await tx
    .delete(quotaLeases)
    .where(
      and(
        eq(quotaLeases.userId, key.userId),
        eq(quotaLeases.period, key.period),
        eq(quotaLeases.startsAt, key.startsAt),
        ne(quotaLeases.instanceId, ctx.id),
        lt(quotaLeases.expiresAt, ctx.now()),
      ),
    )
    .returning({
      tokens: quotaLeases.tokens,
      requests: quotaLeases.requests,
      instanceId: quotaLeases.instanceId,
    })
  const tokens = gone.reduce((n, r) => n + r.tokens, 0)
  const requests = gone.reduce((n, r) => n + r.requests, 0)
  if (tokens || requests) {
    await tx
      .update(quotaCounters)
      .set({
        reserved: sql`greatest(${quotaCounters.reserved} - ${tokens}, 0)`,
        requests: sql`greatest(${quotaCounters.requests} - ${requests}, 0)`,
      })
      .where(counterWhere(key))
    ctx.log.info('reclaimed expired quota leases', {
      user_id: key.userId,
      period: key.period,
      instances: gone.map((r) => r.instanceId),
      tokens,
      requests,
    })
  }
  return { tokens, requests }
}

/** Locks a counter row, then reclaims its expired leases (the sweep's unit of work). */
async function reclaimCounter(ctx: AppContext, key: CounterKey) {
  await ctx.db.transaction(async (tx) => {
    await tx
      .select({ userId: quotaCounters.userId })
      .from(quotaCounters)
      .where(counterWhere(key))
      .for('update')
    await reclaimExpired(ctx, tx, key)
  })
}

/** The heartbeat: keeps this instance's rows alive, then reclaims what dead instances left. */
export async function renewAndSweep(ctx: AppContext): Promise<void> {
  await ctx.db
    .update(quotaLeases)
    .set({ expiresAt: expiry(ctx) })
    .where(eq(quotaLeases.instanceId, ctx.id))
  const expired = await ctx.db
    .selectDistinct({
      userId: quotaLeases.userId,
      period: quotaLeases.period,
      startsAt: quotaLeases.startsAt,
    })
    .from(quotaLeases)
    .where(and(ne(quotaLeases.instanceId, ctx.id), lt(quotaLeases.expiresAt, ctx.now())))
    .limit(SWEEP_BATCH)
  for (const key of expired) await reclaimCounter(ctx, key)
}
