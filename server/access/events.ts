// `access.revoked`: the one event every consumer of a capability listens to (session streams,
// terminals, the UI's "why did this end"). Published through Postgres NOTIFY, so a stream on any
// instance hears a revocation made on another; each listener re-checks the access rule itself,
// so a lost or duplicated notice can only delay a close, never close what is still allowed.
import type { AppContext } from '../context/index.ts'

export const ACCESS_REVOKED_CHANNEL = 'oa_access_revoked'
export const ACCESS_REVOKED_EVENT = 'access.revoked'

/** Why access ended; the UI shows one sentence per code (zh + en). */
export const ACCESS_REVOKED_REASONS = [
  'unassigned',
  'user_disabled',
  'user_deleted',
  'tenant_changed',
  'role_changed',
  'machine_deregistered',
  'machine_reregistered',
  'agent_token_rotated',
  'agent_token_revoked',
  'logout',
  'password_changed',
] as const
export type AccessRevokedReason = (typeof ACCESS_REVOKED_REASONS)[number]

/** Reasons that end every session of the machine, whoever owns it. */
export const MACHINE_WIDE_REASONS: ReadonlySet<AccessRevokedReason> = new Set([
  'machine_deregistered',
  'machine_reregistered',
  'agent_token_rotated',
  'agent_token_revoked',
])

/** Which capabilities the change touches: a user's, a machine's, or named sessions. */
export interface AccessScope {
  user_id?: number
  machine_id?: string
  session_ids?: string[]
}

export interface AccessRevokedEvent {
  type: typeof ACCESS_REVOKED_EVENT
  reason: AccessRevokedReason
  scope: AccessScope
}

type Listener = (event: AccessRevokedEvent) => void

/** The last event of a browser stream whose reader lost access: it names why. */
export function accessRevokedFrame(reason: AccessRevokedReason) {
  return { event: ACCESS_REVOKED_EVENT, data: { type: ACCESS_REVOKED_EVENT, reason } }
}

/** This instance's listeners, behind one LISTEN (ctx.state.accessEvents). */
export interface AccessEventRegistry {
  listeners: Set<Listener>
  ready: Promise<void>
}

/** NOTIFY payloads hold at most 8000 bytes; longer session lists are split. */
const SESSIONS_PER_NOTICE = 100

export function createAccessEventRegistry(ctx: AppContext): AccessEventRegistry {
  const listeners = new Set<Listener>()
  const ready = ctx.database
    .listen(ACCESS_REVOKED_CHANNEL, (payload) => {
      let event: AccessRevokedEvent
      try {
        event = JSON.parse(payload) as AccessRevokedEvent
      } catch (error) {
        ctx.log.warn('malformed access notice', { error })
        return
      }
      for (const fn of listeners) {
        try {
          fn(event)
        } catch (error) {
          ctx.log.warn('access listener failed', { error })
        }
      }
    })
    .then((unlisten) => ctx.onClose(unlisten))
  return { listeners, ready }
}

/** Calls `listener` for every revocation on any instance; resolves once listening. */
export async function subscribeAccessRevoked(ctx: AppContext, listener: Listener): Promise<() => void> {
  const reg = ctx.state.accessEvents
  await reg.ready
  reg.listeners.add(listener)
  return () => reg.listeners.delete(listener)
}

/** Tells every instance (this one included) that access in `scope` ended, and why. */
export async function publishAccessRevoked(
  ctx: AppContext,
  reason: AccessRevokedReason,
  scope: AccessScope,
): Promise<void> {
  // This instance forgets at once (the caller's next request must not pass on a cached
  // standing); the others when the notice arrives.
  ctx.state.accessCache.drop(scope)
  const chunks: AccessScope[] = []
  const ids = scope.session_ids
  if (ids && ids.length > SESSIONS_PER_NOTICE) {
    for (let i = 0; i < ids.length; i += SESSIONS_PER_NOTICE)
      chunks.push({ ...scope, session_ids: ids.slice(i, i + SESSIONS_PER_NOTICE) })
  } else chunks.push(scope)
  for (const chunk of chunks) {
    const event: AccessRevokedEvent = { type: ACCESS_REVOKED_EVENT, reason, scope: chunk }
    await ctx.database.notify(ACCESS_REVOKED_CHANNEL, JSON.stringify(event))
  }
}

/** Whether a capability of (user, machine, session) falls under the event's scope. */
export function touches(
  event: AccessRevokedEvent,
  subject: { userId?: number; machineId?: string | null; sessionId?: string },
): boolean {
  const { scope } = event
  if (scope.user_id !== undefined && scope.user_id === subject.userId) return true
  if (scope.machine_id !== undefined && scope.machine_id === subject.machineId) return true
  return !!subject.sessionId && !!scope.session_ids?.includes(subject.sessionId)
}
