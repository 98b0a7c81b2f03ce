// The HTTP face of the access rule (server/access/rule.ts): which operations each standing
// allows. Its owner does everything while it still may use the machine; system admins and the
// machine's admins may view and stop others' sessions (system admins also pause and resume
// them). A session one may not see answers 404, exactly like a missing one.
import {
  cachedStanding,
  isLiveRole,
  type LoadedStanding,
  loadStanding,
  type SessionRole,
} from '../access/rule.ts'
import { resolveSession } from '../auth/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { forbidden, notFound } from '../errors.ts'

export type { MachineRow, SessionRow } from '../access/rule.ts'
export type SessionOperation = 'view' | 'stop' | 'pause' | 'resume' | 'steer'

const ALLOWED: Record<SessionRole, ReadonlySet<SessionOperation>> = {
  owner: new Set(['view', 'stop', 'pause', 'resume', 'steer']),
  former_owner: new Set(['view']),
  system_admin: new Set(['view', 'stop', 'pause', 'resume']),
  machine_admin: new Set(['view', 'stop']),
}

export type SessionAccess = LoadedStanding & { role: SessionRole }

export async function sessionAccess(
  ctx: AppContext,
  user: UserRow,
  sessionId: string,
  op: SessionOperation,
  options: { cached?: boolean } = {},
): Promise<SessionAccess> {
  const loaded = options.cached
    ? await cachedStanding(ctx, user, sessionId)
    : await loadStanding(ctx, user, sessionId)
  if (!loaded?.role) throw notFound('Session')
  const { role } = loaded
  if (!ALLOWED[role].has(op)) {
    if (role === 'former_owner') throw notFound('Session')
    throw forbidden(
      op === 'steer' ? "Only the session's owner can do this" : `You cannot ${op} another user's session`,
    )
  }
  return { ...loaded, role }
}

/**
 * A live view (stream, terminal) still stands: its browser login is valid (when it came with
 * one; a personal access token's user is checked by the rule) and the rule still allows it.
 */
export async function viewerStillAllowed(
  ctx: AppContext,
  viewer: { userId: number; loginToken: string | null },
  sessionId: string,
) {
  let user: UserRow | number = viewer.userId
  if (viewer.loginToken !== null) {
    const current = await resolveSession(ctx, viewer.loginToken)
    if (!current) return false
    user = current
  }
  const loaded = await loadStanding(ctx, user, sessionId)
  return isLiveRole(loaded?.role ?? null)
}

/** The machine a session runs on, to send it a command; 404 when the machine is gone. */
export function machineOf(access: SessionAccess): string {
  if (!access.session.remoteMachineId || !access.machine || access.machine.deletedAt) {
    throw notFound('Machine of this session')
  }
  return access.session.remoteMachineId
}
