// What taking access away ends, in one place: `revokeAccess` is called after a change to access
// has been written (unassign, user disabled/deleted/moved, machine deregistered/re-registered,
// agent token rotated/revoked, logout, password change). The sessions capability stops the live
// sessions that no longer pass the rule (it registers itself with handleRevocations when the app
// is composed, so access/ needs no import of sessions/); then `access.revoked` is published so
// every instance closes the streams and terminals that depended on it. Cutting an agent's
// channel stays with its callers (notifyAgentControl), which own the agent token change.
import type { AppContext } from '../context/index.ts'
import { type AccessRevokedReason, type AccessScope, publishAccessRevoked } from './events.ts'

/** Reasons that only end streams (the user's browser login changed), not sessions. */
const STREAMS_ONLY: ReadonlySet<AccessRevokedReason> = new Set(['logout', 'password_changed'])

export interface StopOptions {
  /** false when the machine can no longer be reached through the queue (deregistered). */
  queueStop?: boolean
  /** false when the session rows are about to go (user deleted): stop commands outlive them. */
  linkCommands?: boolean
}

/** Stops the sessions a revocation took away; returns their ids (sessions/revoke.ts). */
export type SessionStopper = (
  ctx: AppContext,
  reason: AccessRevokedReason,
  scope: AccessScope,
  options: StopOptions,
) => Promise<string[]>

/**
 * Scope fields narrow the sessions to stop (user_id and machine_id: that user's sessions on that
 * machine); listeners treat them as "may be touched" and re-check the rule themselves.
 */
export interface RevocationResult {
  sessionsStopped: string[]
}

/** Per server instance: the stopper the sessions capability registered, if it is composed. */
export interface RevocationHandlers {
  stopper: SessionStopper | undefined
}

export const createRevocationHandlers = (): RevocationHandlers => ({ stopper: undefined })

/** The app's sessions capability registers how sessions are stopped (one per server instance). */
export function handleRevocations(ctx: AppContext, stopper: SessionStopper): void {
  ctx.state.revocations.stopper = stopper
}

/** Ends what the change took away and tells every instance. Call it after the change is committed. */
export async function revokeAccess(
  ctx: AppContext,
  reason: AccessRevokedReason,
  scope: AccessScope,
  options: StopOptions = {},
): Promise<RevocationResult> {
  const { stopper } = ctx.state.revocations
  const stopped = STREAMS_ONLY.has(reason) || !stopper ? [] : await stopper(ctx, reason, scope, options)
  await publishAccessRevoked(ctx, reason, {
    ...scope,
    ...(stopped.length || scope.session_ids
      ? { session_ids: [...(scope.session_ids ?? []), ...stopped] }
      : {}),
  })
  return { sessionsStopped: stopped }
}
