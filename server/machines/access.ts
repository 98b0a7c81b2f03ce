// Who may do what on a machine (the seed's permission table). A machine of another tenant, or a
// deregistered one, is "not found" for everyone but system admins, so ids reveal nothing.
import { and, eq, isNull, type SQL } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { machineAssignments, remoteMachines } from '../db/schema/index.ts'
import { forbidden, notFound } from '../errors.ts'

export type MachineRow = typeof remoteMachines.$inferSelect
/** The caller's standing on one machine: system admin, machine admin, assigned user, or none. */
export type MachineRole = 'system_admin' | 'admin' | 'user' | null

export interface MachineAccess {
  machine: MachineRow
  role: MachineRole
}

/**
 * Which machines a plain user sees (their list and its live stream): those assigned to them, in
 * their own tenant. A condition on `machineAssignments` joined to `remoteMachines`.
 */
export function assignedToUser(user: UserRow): SQL {
  return and(eq(machineAssignments.userId, user.id), eq(remoteMachines.tenantId, user.tenantId))!
}

export async function machineAccess(
  ctx: AppContext,
  user: UserRow,
  machineId: string,
): Promise<MachineAccess> {
  const [row] = await ctx.db
    .select({ machine: remoteMachines, permission: machineAssignments.permission })
    .from(remoteMachines)
    .leftJoin(
      machineAssignments,
      and(eq(machineAssignments.machineId, remoteMachines.machineId), eq(machineAssignments.userId, user.id)),
    )
    .where(and(eq(remoteMachines.machineId, machineId), isNull(remoteMachines.deletedAt)))
    .limit(1)
  if (!row) throw notFound('Machine')
  if (user.role === 'system_admin') return { machine: row.machine, role: 'system_admin' }
  if (row.machine.tenantId !== user.tenantId) throw notFound('Machine')
  return { machine: row.machine, role: row.permission ?? null }
}

/** Any assigned user (or admin) may use the machine. */
export async function requireMachineUse(ctx: AppContext, user: UserRow, machineId: string) {
  const access = await machineAccess(ctx, user, machineId)
  if (!access.role) throw forbidden('You are not assigned to this machine')
  return access
}

/** Managing users and others' sessions: system admins and this machine's admins. A refusal is audited. */
export async function requireMachineAdmin(
  ctx: AppContext,
  user: UserRow,
  machineId: string,
  attempt: { actor: Actor; event: string },
) {
  const access = await machineAccess(ctx, user, machineId)
  if (access.role !== 'system_admin' && access.role !== 'admin') {
    await ctx.audit(
      attempt.event,
      attempt.actor,
      { type: 'machine', id: machineId },
      {},
      {
        outcome: 'denied',
        tenantId: access.machine.tenantId,
      },
    )
    throw forbidden("Only system administrators and this machine's administrators can do this")
  }
  return access
}

export const isAdminRole = (role: MachineRole) => role === 'system_admin' || role === 'admin'
