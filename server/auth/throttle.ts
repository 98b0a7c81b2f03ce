// Login throttling that protects accounts without handing attackers a lockout (OWASP's
// authentication cheat sheet): failures are counted per (username, address) and per address,
// and either limit answers 429 to that address only. Across all addresses a username only gets
// slower: past a number of failures every attempt on it waits a growing delay, and then a correct
// password passes, so guessing from many addresses is slowed and nobody can lock a user out.
// Counts come from the audit log itself, so every instance sees the same and a restart forgets
// nothing.
import { and, count, eq, gte, isNull, min, type SQL } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { auditLog } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'

export const LOGIN_FAILED = 'auth.login.failure'
/** The first back-off step; each further failure doubles it, up to LOGIN_USER_BACKOFF_MAX_MS. */
const BACKOFF_BASE_MS = 250

async function failuresSince(ctx: AppContext, since: Date, filter: SQL | undefined) {
  const [row] = await ctx.db
    .select({ n: count(), oldest: min(auditLog.ts) })
    .from(auditLog)
    .where(and(eq(auditLog.event, LOGIN_FAILED), gte(auditLog.ts, since), filter))
  return { n: row?.n ?? 0, oldest: row?.oldest ? new Date(row.oldest).getTime() : null }
}

function rateLimited(ctx: AppContext, oldest: number | null): HttpError {
  const windowMs = ctx.config.login.windowSeconds * 1000
  const now = ctx.now().getTime()
  const retryAfter = Math.max(1, Math.ceil(((oldest ?? now) + windowMs - now) / 1000))
  return new HttpError(
    429,
    `Too many failed login attempts from this address. Try again in ${retryAfter} seconds.`,
    'rate_limited',
    undefined,
    { 'retry-after': String(retryAfter) },
  )
}

/** How long an attempt on a username waits after `failures` failures from all addresses. */
export function backoffMs(ctx: AppContext, failures: number): number {
  const { userBackoffAfter, userBackoffMaxMs } = ctx.config.login
  if (failures < userBackoffAfter) return 0
  return Math.min(userBackoffMaxMs, BACKOFF_BASE_MS * 2 ** Math.min(30, failures - userBackoffAfter))
}

/**
 * Refuses (429) an address over its limits, else waits out the username's back-off. Returns
 * the delay it waited, in milliseconds.
 */
export async function throttleLogin(ctx: AppContext, username: string, ip: string | null): Promise<number> {
  const { windowSeconds, maxFailuresPerUserIp, maxFailuresPerIp } = ctx.config.login
  const since = new Date(ctx.now().getTime() - windowSeconds * 1000)
  const name = eq(auditLog.targetId, username.toLowerCase())
  const address = ip ? eq(auditLog.ip, ip) : isNull(auditLog.ip)
  const pair = await failuresSince(ctx, since, and(name, address))
  if (pair.n >= maxFailuresPerUserIp) throw rateLimited(ctx, pair.oldest)
  if (ip) {
    const fromIp = await failuresSince(ctx, since, address)
    if (fromIp.n >= maxFailuresPerIp) throw rateLimited(ctx, fromIp.oldest)
  }
  const delay = backoffMs(ctx, (await failuresSince(ctx, since, name)).n)
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
  return delay
}
