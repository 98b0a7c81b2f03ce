// Who may see and steer a session (the seed's table): its owner does everything; system admins
// and the machine's admins may view and stop others' sessions (system admins also pause and
// resume them). A session one may not see answers 404, exactly like a missing one.
import { and, eq } from 'drizzle-orm'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { machineAssignments, remoteMachines, sessions } from '../db/schema/index.ts'
import { forbidden, notFound } from '../errors.ts'

export type SessionRow = typeof sessions.$inferSelect
export type MachineRow = typeof remoteMachines.$inferSelect
export type SessionRole = 'owner' | 'system_admin' | 'machine_admin'
export type SessionOperation = 'view' | 'stop' | 'pause' | 'resume' | 'steer'

const ALLOWED: Record<SessionRole, ReadonlySet<SessionOperation>> = {
  owner: new Set(['view', 'stop', 'pause', 'resume', 'steer']),
  system_admin: new Set(['view', 'stop', 'pause', 'resume']),
  machine_admin: new Set(['view', 'stop']),
}

export interface SessionAccess {
  session: SessionRow
  machine: MachineRow | null
  role: SessionRole
}

export async function sessionAccess(
  ctx: AppContext,
  user: UserRow,
  sessionId: string,
  op: SessionOperation,
): Promise<SessionAccess> {
  const [row] = await ctx.db
    .select({ session: sessions, machine: remoteMachines, permission: machineAssignments.permission })
    .from(sessions)
    .leftJoin(remoteMachines, eq(remoteMachines.machineId, sessions.remoteMachineId))
    .leftJoin(
      machineAssignments,
      and(eq(machineAssignments.machineId, sessions.remoteMachineId), eq(machineAssignments.userId, user.id)),
    )
    .where(eq(sessions.id, sessionId))
    .limit(1)
  if (!row) throw notFound('Session')
  let role: SessionRole | undefined
  if (row.session.userId === user.id) role = 'owner'
  else if (user.role === 'system_admin') role = 'system_admin'
  else if (row.permission === 'admin' && row.session.tenantId === user.tenantId) role = 'machine_admin'
  if (!role) throw notFound('Session')
  if (!ALLOWED[role].has(op)) {
    throw forbidden(
      op === 'steer' ? "Only the session's owner can do this" : `You cannot ${op} another user's session`,
    )
  }
  return { session: row.session, machine: row.machine, role }
}

/** The machine a session runs on, to send it a command; 404 when the machine is gone. */
export function machineOf(access: SessionAccess): string {
  if (!access.session.remoteMachineId || !access.machine || access.machine.deletedAt) {
    throw notFound('Machine of this session')
  }
  return access.session.remoteMachineId
}
