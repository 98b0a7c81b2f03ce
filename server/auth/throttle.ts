// Login throttling that protects accounts without handing attackers a lockout (OWASP's
// authentication cheat sheet): failures are counted per (username, address) and per address,
// and either limit answers 429 to that address only. Across all addresses a username only gets
// slower: past a number of failures every attempt on it waits a growing delay, and then a correct
// password passes, so guessing from many addresses is slowed and nobody can lock a user out.
// Counts come from the audit log itself, so every instance sees the same and a restart forgets
// nothing.
import type { AppContext } from '../context/index.ts'
import { assertUnderAuditRate } from './rate-limit.ts'

export const LOGIN_FAILED = 'auth.login.failure'
/** The first back-off step; each further failure doubles it, up to LOGIN_USER_BACKOFF_MAX_MS. */
const BACKOFF_BASE_MS = 250

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
  const targetId = username.toLowerCase()
  await assertUnderAuditRate(ctx, {
    windowSeconds,
    checks: [
      { filter: { event: LOGIN_FAILED, targetId, ip }, limit: maxFailuresPerUserIp },
      ...(ip ? [{ filter: { event: LOGIN_FAILED, ip }, limit: maxFailuresPerIp }] : []),
    ],
    message: 'Too many failed login attempts from this address.',
  })
  const since = new Date(ctx.now().getTime() - windowSeconds * 1000)
  const delay = backoffMs(ctx, (await ctx.auditEvents({ event: LOGIN_FAILED, targetId }, since)).n)
  if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay))
  return delay
}
