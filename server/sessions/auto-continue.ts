// A session stopped by its quota can be set to continue by itself when the quota resets: its
// owner turns it on (kept as sessions.auto_continue_url, the base URL its CLI reaches the proxy
// at), and a sweep on every instance continues each such session whose quota alert's reset time
// has come, through the same continueSession a person uses. Each session is claimed by one
// conditional UPDATE before it is continued, so it continues once however many instances sweep;
// a continue refused at the reset is told to the session as an alert with the reason.
import { and, eq, isNotNull, sql } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import { findUserById, type UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { sessions } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'
import { sessionAccess } from './access.ts'
import { reportSessionAlert } from './alerts.ts'
import { continueSession, refuseResume } from './continue.ts'
import { sessionView } from './view.ts'

/** How often each instance looks for sessions whose quota has reset. */
export const AUTO_CONTINUE_SWEEP_MS = 15_000

const QUOTA_REACHED = 'quota_exceeded'

export async function setAutoContinue(
  ctx: AppContext,
  user: UserRow,
  actor: Actor,
  id: string,
  enabled: boolean,
  baseUrl: string,
) {
  const access = await sessionAccess(ctx, user, id, 'steer')
  const { session } = access
  if (enabled) {
    if (session.status !== 'stopped' || session.alert?.code !== QUOTA_REACHED || !session.alert.resets_at)
      throw new HttpError(
        409,
        'Only a session stopped while over its quota can continue by itself when the quota resets',
        'not_stopped_by_quota',
      )
    refuseResume(session)
  }
  const [row] = await ctx.db
    .update(sessions)
    .set({ autoContinueUrl: enabled ? baseUrl : null })
    .where(eq(sessions.id, id))
    .returning()
  await ctx.audit('session.auto_continue', actor, { type: 'session', id }, { enabled })
  return sessionView(row!, access.machine)
}

/** Continues every session set to continue whose quota has reset by now; returns the ids continued. */
export async function continueAtQuotaReset(ctx: AppContext): Promise<string[]> {
  const now = ctx.now().toISOString()
  const due = await ctx.db
    .select({ id: sessions.id, userId: sessions.userId, url: sessions.autoContinueUrl })
    .from(sessions)
    .where(
      and(
        isNotNull(sessions.autoContinueUrl),
        eq(sessions.status, 'stopped'),
        sql`(${sessions.alert}->>'resets_at')::timestamptz <= ${now}::timestamptz`,
      ),
    )
  const continued: string[] = []
  for (const s of due) {
    // Claimed here (the wish is spent whatever happens next), or by another instance first.
    const [claimed] = await ctx.db
      .update(sessions)
      .set({ autoContinueUrl: null })
      .where(and(eq(sessions.id, s.id), isNotNull(sessions.autoContinueUrl)))
      .returning({ id: sessions.id })
    if (!claimed) continue
    try {
      const user = await findUserById(ctx.db, s.userId)
      if (!user) throw new HttpError(409, 'The session has no owner any more')
      const actor: Actor = { type: 'system', name: 'quota reset', tenantId: user.tenantId }
      await continueSession(ctx, { user, actor }, s.id, s.url!)
      continued.push(s.id)
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error)
      ctx.log.info('session did not continue at the quota reset', { session_id: s.id, reason })
      await reportSessionAlert(ctx, s.id, {
        code: 'auto_continue_failed',
        level: 'error',
        message: `The session could not continue by itself when the quota reset: ${reason}`,
      })
    }
  }
  return continued
}

export function startAutoContinue(ctx: AppContext): void {
  const timer = setInterval(() => {
    continueAtQuotaReset(ctx).catch((error) => ctx.log.warn('auto-continue sweep failed', { error }))
  }, AUTO_CONTINUE_SWEEP_MS)
  ctx.onClose(() => clearInterval(timer))
}
