// Who may open a terminal on a machine: system admins always; the machine's admins always;
// assigned users only when the machine's setting says `assigned`. Checked at open, at every
// attach, and again while the terminal is watched, so a revoked user loses it at once.
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import type { TerminalAccess } from '../db/schema/index.ts'
import { forbidden } from '../errors.ts'
import { type MachineAccess, type MachineRole, machineAccess } from '../machines/access.ts'

export function terminalAllowed(role: MachineRole, setting: TerminalAccess): boolean {
  if (role === 'system_admin' || role === 'admin') return true
  return role === 'user' && setting === 'assigned'
}

/** The caller's access to the machine, or a 403 saying why a terminal is refused. */
export async function requireTerminalAccess(
  ctx: AppContext,
  user: UserRow,
  machineId: string,
): Promise<MachineAccess> {
  const access = await machineAccess(ctx, user, machineId)
  if (!access.role) throw forbidden('You are not assigned to this machine')
  if (!terminalAllowed(access.role, access.machine.terminalAccess)) {
    throw forbidden("Terminals on this machine are for the machine's administrators only")
  }
  return access
}
