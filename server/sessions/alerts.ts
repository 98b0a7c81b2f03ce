// Problems with a session's LLM calls, told to the session as they happen: the proxy reports a
// refusal (quota reached, no key, upstream down or refusing, a body too large), the
// session keeps it as its alert and every watcher gets it over the stream at once. A CLI that
// retries a refused call does not flood the database: the same alert is written again only
// after ALERT_REPEAT_MS (a warning only when it changes).
import { and, eq, isNull, or, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { type SessionAlert, sessions } from '../db/schema/index.ts'
import { publishAlert } from './events.ts'

export const ALERT_REPEAT_MS = 10_000

export async function reportSessionAlert(
  ctx: AppContext,
  sessionId: string,
  alert: Omit<SessionAlert, 'at'>,
): Promise<void> {
  const at = ctx.now()
  const full: SessionAlert = { ...alert, at: at.toISOString() }
  const stale = new Date(at.getTime() - ALERT_REPEAT_MS).toISOString()
  const differs = or(
    isNull(sessions.alert),
    sql`${sessions.alert}->>'code' <> ${alert.code}`,
    sql`${sessions.alert}->>'message' <> ${alert.message}`,
    ...(alert.level === 'error'
      ? [sql`(${sessions.alert}->>'at')::timestamptz < ${stale}::timestamptz`]
      : []),
  )
  const rows = await ctx.db
    .update(sessions)
    .set({ alert: full })
    .where(and(eq(sessions.id, sessionId), differs))
    .returning({ id: sessions.id })
  if (rows.length) await publishAlert(ctx, sessionId, full)
}
