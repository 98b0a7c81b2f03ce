// GET /api/remote/machines/events: the machine lists' live stream. A reader hears of a machine
// exactly when GET /api/remote/machines lists it for them (system admins: every one; others:
// those assigned to them), and of the unassignment or deregistration of one they could see
// (their refetch then drops it).
import { and, eq, inArray } from 'drizzle-orm'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { machineAssignments, remoteMachines } from '../db/schema/index.ts'
import type { LiveChange } from '../live/bus.ts'
import type { ChangedEvent } from '../live/stream.ts'
import { assignedToUser } from './access.ts'

const LEAVING_KINDS: ReadonlySet<string> = new Set(['assignment', 'deleted'])

/** One reader's filter; it remembers the machines it let through. */
export function machineChangeFilter(ctx: AppContext) {
  const known = new Set<string>()
  return async (user: UserRow, change: LiveChange): Promise<ChangedEvent | null> => {
    if (change.topic !== 'machines') return null
    const extra = change.registration_id ? { registration_id: change.registration_id } : {}
    if (user.role === 'system_admin')
      return { topic: 'machines', kind: change.kind, ids: change.machine_ids, ...extra }
    const rows = await ctx.db
      .select({ id: machineAssignments.machineId })
      .from(machineAssignments)
      .innerJoin(remoteMachines, eq(remoteMachines.machineId, machineAssignments.machineId))
      .where(and(assignedToUser(user), inArray(machineAssignments.machineId, change.machine_ids)))
    const assigned = new Set(rows.map((r) => r.id))
    // A machine they could see and no longer can: they hear that it left, then nothing more.
    const leaving = LEAVING_KINDS.has(change.kind)
    const ids = change.machine_ids.filter((id) => assigned.has(id) || (leaving && known.has(id)))
    for (const id of change.machine_ids) {
      if (assigned.has(id)) known.add(id)
      else known.delete(id)
    }
    return { topic: 'machines', kind: change.kind, ids }
  }
}
