// Rate limits counted from the audit log itself: every instance sees the same counts and a
// restart forgets nothing. Used for failed logins and agent registrations.
import { and, count, eq, gte, min, type SQL } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { auditLog } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'

export interface AuditRateLimit {
  /** Audit events that count, and which of them (one filter per limit). */
  event: string
  outcome?: 'success' | 'failure' | 'denied'
  windowSeconds: number
  checks: Array<{ filter: SQL; limit: number }>
  /** The sentence before "Try again in N seconds." */
  message: string
}

/** 429 with Retry-After (until the oldest counted event leaves the window) when a limit is reached. */
export async function assertUnderAuditRate(ctx: AppContext, rule: AuditRateLimit): Promise<void> {
  const now = ctx.now().getTime()
  const since = new Date(now - rule.windowSeconds * 1000)
  for (const { filter, limit } of rule.checks) {
    const [row] = await ctx.db
      .select({ n: count(), oldest: min(auditLog.ts) })
      .from(auditLog)
      .where(
        and(
          eq(auditLog.event, rule.event),
          rule.outcome ? eq(auditLog.outcome, rule.outcome) : undefined,
          gte(auditLog.ts, since),
          filter,
        ),
      )
    if (row && row.n >= limit) {
      const oldest = row.oldest ? new Date(row.oldest).getTime() : now
      const retryAfter = Math.max(1, Math.ceil((oldest + rule.windowSeconds * 1000 - now) / 1000))
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
