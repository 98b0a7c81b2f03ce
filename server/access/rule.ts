// The access rule, named once: may this user still view or steer this session? Every use of a
// session capability asks it (HTTP routes, the live stream, the LLM proxy's token check, the
// agent channel's token renewal), so access taken away is gone at the next use, wherever that
// use happens; revoke.ts makes the same change end what is already running.
import { and, eq } from 'drizzle-orm'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import {
  ENDED_SESSION_STATUSES,
  type MachinePermission,
  machineAssignments,
  remoteMachines,
  sessions,
  users,
} from '../db/schema/index.ts'

export type SessionRow = typeof sessions.$inferSelect
export type MachineRow = typeof remoteMachines.$inferSelect
/**
 * `owner` steers its live session; `former_owner` may only read the history of its ended
 * session after access to the machine went away; admins view (and stop) others' sessions.
 */
export type SessionRole = 'owner' | 'former_owner' | 'system_admin' | 'machine_admin'

export interface StandingFacts {
  user: Pick<UserRow, 'id' | 'role' | 'status' | 'tenantId'>
  session: SessionRow
  machine: MachineRow | null
  /** The user's assignment on the session's machine, if any. */
  permission: MachinePermission | null
}

export const isEnded = (status: string) => (ENDED_SESSION_STATUSES as readonly string[]).includes(status)

/**
 * The machine still is the one the session ran on: registered, not deregistered, in the
 * session's tenant, and not re-registered since (a re-registration resets created_at).
 */
export function machineStillHolds(session: SessionRow, machine: MachineRow | null): machine is MachineRow {
  return (
    !!machine &&
    !machine.deletedAt &&
    machine.tenantId === session.tenantId &&
    machine.createdAt.getTime() <= session.createdAt.getTime()
  )
}

/** The one rule: the caller's role on the session, or null when they may not even see it. */
export function standing({ user, session, machine, permission }: StandingFacts): SessionRole | null {
  if (user.status !== 'active') return null
  const systemAdmin = user.role === 'system_admin'
  if (!systemAdmin && user.tenantId !== session.tenantId) return null
  // A session without a machine (a local workspace) hangs on the user alone.
  const onMachine =
    session.remoteMachineId === null ||
    (machineStillHolds(session, machine) && (systemAdmin || permission !== null))
  if (session.userId === user.id) {
    if (onMachine) return 'owner'
    return isEnded(session.status) ? 'former_owner' : null
  }
  if (systemAdmin) return 'system_admin'
  if (onMachine && permission === 'admin') return 'machine_admin'
  return null
}

/** A live capability (stream, proxy token, steering) needs more than reading history. */
export const isLiveRole = (role: SessionRole | null) => role !== null && role !== 'former_owner'

export interface LoadedStanding {
  session: SessionRow
  machine: MachineRow | null
  role: SessionRole | null
}

/** Reads what the rule needs in one query; undefined when the session does not exist. */
export async function loadStanding(
  ctx: AppContext,
  who: UserRow | number | 'owner',
  sessionId: string,
): Promise<LoadedStanding | undefined> {
  const userId = who === 'owner' ? sessions.userId : typeof who === 'number' ? who : who.id
  const [row] = await ctx.db
    .select({
      session: sessions,
      machine: remoteMachines,
      permission: machineAssignments.permission,
      user: { id: users.id, role: users.role, status: users.status, tenantId: users.tenantId },
    })
    .from(sessions)
    .leftJoin(remoteMachines, eq(remoteMachines.machineId, sessions.remoteMachineId))
    .leftJoin(
      machineAssignments,
      and(eq(machineAssignments.machineId, sessions.remoteMachineId), eq(machineAssignments.userId, userId)),
    )
    .leftJoin(users, eq(users.id, userId))
    .where(eq(sessions.id, sessionId))
    .limit(1)
  if (!row) return undefined
  const role = row.user ? standing({ ...row, user: row.user }) : null
  return { session: row.session, machine: row.machine, role }
}

/**
 * loadStanding through this instance's access cache (access/cache.ts): a standing that grants a
 * role is kept until a revocation touching its user, machine or session drops it (or its TTL
 * passes). For a caller whose own write checks the session's state again (chat).
 */
export async function cachedStanding(
  ctx: AppContext,
  user: UserRow,
  sessionId: string,
): Promise<LoadedStanding | undefined> {
  const cache = ctx.state.accessCache
  const hit = cache.standing(user.id, sessionId)
  if (hit) return hit
  const generation = cache.generation()
  const loaded = await loadStanding(ctx, user, sessionId)
  if (loaded && isLiveRole(loaded.role)) cache.putStanding(user.id, sessionId, loaded, generation)
  return loaded
}

/** The session is live and its owner still holds it: what a proxy token or a renewal is worth. */
export async function ownerStillHolds(ctx: AppContext, sessionId: string): Promise<boolean> {
  const loaded = await loadStanding(ctx, 'owner', sessionId)
  return !!loaded && loaded.role === 'owner' && !isEnded(loaded.session.status)
}
