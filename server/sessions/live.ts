// GET /api/remote/sessions/events: the session lists' live stream (workspace, admin sessions
// page). It hears every session's status, permission and alert events and its output (as
// `activity`, at most once a second per session) from the session event bus, and creations and
// renames from the live bus; a reader hears of a session exactly when GET /api/remote/sessions
// would list it for them.
import { and, inArray } from 'drizzle-orm'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { sessions } from '../db/schema/index.ts'
import { type LiveChange, type SessionChangeKind, subscribeLive } from '../live/bus.ts'
import type { ChangedEvent } from '../live/stream.ts'
import { subscribeAnySessionEvent } from './events.ts'
import { ownOrAdministered } from './service.ts'

/** Output comes in many small records; the lists need to hear of it at most this often. */
export const ACTIVITY_EVERY_MS = 1000

const KIND_OF_EVENT = {
  output: 'activity',
  status: 'status',
  permission: 'permission',
  alert: 'alert',
} as const

/** Feeds one stream every session change, output thinned to one `activity` a second per session. */
export async function subscribeSessionChanges(
  ctx: AppContext,
  listener: (change: LiveChange) => void,
): Promise<() => void> {
  // Monotonic milliseconds: the thinning is paired with real timers, not with the app's clock.
  const lastActivity = new Map<string, number>()
  const trailing = new Map<string, ReturnType<typeof setTimeout>>()
  const emit = (kind: SessionChangeKind, sessionId: string) =>
    listener({ topic: 'sessions', kind, session_ids: [sessionId] })
  const activity = (sessionId: string) => {
    if (trailing.has(sessionId)) return
    const wait =
      (lastActivity.get(sessionId) ?? Number.NEGATIVE_INFINITY) + ACTIVITY_EVERY_MS - performance.now()
    const fire = () => {
      trailing.delete(sessionId)
      lastActivity.set(sessionId, performance.now())
      emit('activity', sessionId)
    }
    if (wait <= 0) fire()
    else trailing.set(sessionId, setTimeout(fire, wait))
  }
  const offAny = await subscribeAnySessionEvent(ctx, (sessionId, type) => {
    const kind = KIND_OF_EVENT[type]
    if (kind === 'activity') activity(sessionId)
    else emit(kind, sessionId)
  })
  const offLive = await subscribeLive(ctx, (change) => {
    if (change.topic === 'sessions') listener(change)
  })
  return () => {
    offAny()
    offLive()
    for (const timer of trailing.values()) clearTimeout(timer)
    trailing.clear()
  }
}

/** The changed sessions the reader's list shows (system admins: every one). */
export async function sessionChangeFor(
  ctx: AppContext,
  user: UserRow,
  change: LiveChange,
): Promise<ChangedEvent | null> {
  if (change.topic !== 'sessions') return null
  let ids = change.session_ids
  if (user.role !== 'system_admin') {
    const rows = await ctx.db
      .select({ id: sessions.id })
      .from(sessions)
      .where(and(inArray(sessions.id, ids), ownOrAdministered(ctx, user)))
    ids = rows.map((r) => r.id)
  }
  return { topic: 'sessions', kind: change.kind, ids }
}
