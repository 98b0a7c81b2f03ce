// Rate limits counted from the audit log itself: every instance sees the same counts and a
// restart forgets nothing. Used for failed logins (throttle.ts) and agent registrations. The
// audit log is audit/'s table: this says what to count, ctx.auditEvents counts it.
import type { AuditEventFilter } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'

export interface AuditRateLimit {
  windowSeconds: number
  /** Each limit: the events it counts and how many the window allows. */
  checks: Array<{ filter: AuditEventFilter; limit: number }>
  /** The sentence before "Try again in N seconds." */
  message: string
}

/** 429 with Retry-After (until the oldest counted event leaves the window) when a limit is reached. */
export async function assertUnderAuditRate(ctx: AppContext, rule: AuditRateLimit): Promise<void> {
  const now = ctx.now().getTime()
  const since = new Date(now - rule.windowSeconds * 1000)
  for (const { filter, limit } of rule.checks) {
    const { n, oldest } = await ctx.auditEvents(filter, since)
    if (n >= limit) {
      const retryAfter = Math.max(1, Math.ceil(((oldest ?? now) + rule.windowSeconds * 1000 - now) / 1000))
      throw new HttpError(
        429,
        `${rule.message} Try again in ${retryAfter} seconds.`,
        'rate_limited',
        undefined,
        { 'retry-after': String(retryAfter) },
      )
    }
  }
}
