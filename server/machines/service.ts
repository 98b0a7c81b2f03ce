// The machines API's reads and assignments, permission-checked per the seed's table: system
// admins see everything; machine admins manage plain users of their machine; users see what
// they are assigned to.
import { Buffer } from 'node:buffer'
import { and, asc, desc, eq, gte, inArray, isNull, lt, or } from 'drizzle-orm'
import { revokeAccess } from '../access/revoke.ts'
import type { Actor } from '../audit/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import {
  ENDED_SESSION_STATUSES,
  LIVE_SESSION_STATUSES,
  type MachinePermission,
  machineAssignments,
  remoteMachines,
  type SessionStatus,
  sessions,
  users,
} from '../db/schema/index.ts'
import { badRequest, forbidden, notFound } from '../errors.ts'
import { publishMachineChange } from '../live/bus.ts'
import { assignedToUser, isAdminRole, requireMachineAdmin, requireMachineUse } from './access.ts'
import { assignedUserView, machineSessionView, machineView } from './view.ts'

export async function listMachines(
  ctx: AppContext,
  user: UserRow,
  options: { onlineOnly?: boolean; tenantId?: number } = {},
) {
  const live = isNull(remoteMachines.deletedAt)
  const online = options.onlineOnly ? eq(remoteMachines.status, 'online') : undefined
  const tenant = options.tenantId !== undefined ? eq(remoteMachines.tenantId, options.tenantId) : undefined
  if (user.role === 'system_admin') {
    const rows = await ctx.db
      .select()
      .from(remoteMachines)
      .where(and(live, online, tenant))
      .orderBy(asc(remoteMachines.name))
    return rows.map((m) => machineView(m, 'system_admin'))
  }
  const rows = await ctx.db
    .select({ machine: remoteMachines, permission: machineAssignments.permission })
    .from(machineAssignments)
    .innerJoin(remoteMachines, eq(remoteMachines.machineId, machineAssignments.machineId))
    .where(and(assignedToUser(user), live, online, tenant))
    .orderBy(asc(remoteMachines.name))
  return rows.map((r) => machineView(r.machine, r.permission))
}

async function assignedUsers(ctx: AppContext, machineId: string) {
  const rows = await ctx.db
    .select({
      userId: machineAssignments.userId,
      username: users.username,
      displayName: users.displayName,
      permission: machineAssignments.permission,
      createdAt: machineAssignments.createdAt,
    })
    .from(machineAssignments)
    .innerJoin(users, eq(users.id, machineAssignments.userId))
    .where(eq(machineAssignments.machineId, machineId))
    .orderBy(asc(users.username))
  return rows.map(assignedUserView)
}

/** Detail: capabilities and system info for every user of the machine; its users for admins. */
export async function getMachine(ctx: AppContext, user: UserRow, machineId: string) {
  const { machine, role } = await requireMachineUse(ctx, user, machineId)
  return {
    ...machineView(machine, role),
    system_info: machine.systemInfo,
    ...(isAdminRole(role) ? { users: await assignedUsers(ctx, machineId) } : {}),
  }
}

export async function listMachineUsers(ctx: AppContext, actor: Actor, user: UserRow, machineId: string) {
  await requireMachineAdmin(ctx, user, machineId, { actor, event: 'machine.users.list' })
  return assignedUsers(ctx, machineId)
}

/** Where a page of a machine's sessions ends: the last row's creation time and id. */
function encodeCursor(row: { createdAt: Date; id: string }): string {
  return Buffer.from(JSON.stringify([row.createdAt.toISOString(), row.id])).toString('base64url')
}

function decodeCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString()) as [string, string]
    const createdAt = new Date(at)
    if (typeof id === 'string' && UUID.test(id) && !Number.isNaN(createdAt.getTime()))
      return { createdAt, id }
  } catch {}
  throw badRequest('cursor is not one this server gave out (next_cursor)', 'cursor')
}
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface MachineSessionsPage {
  /** One status, or `live` / `ended` for the state machine's two sets. */
  status?: SessionStatus | 'live' | 'ended'
  limit: number
  cursor?: string
}

/**
 * Admins see every session on the machine; a plain user only their own. Only sessions of the
 * machine's current registration: a deregistered id registered again (into any tenant) starts
 * with no past. Newest first, paged by a cursor (creation time, then id, so equal times never
 * skip or repeat a row).
 */
export async function listMachineSessions(
  ctx: AppContext,
  user: UserRow,
  machineId: string,
  page: MachineSessionsPage,
) {
  const { machine, role } = await requireMachineUse(ctx, user, machineId)
  const mine = isAdminRole(role) ? undefined : eq(sessions.userId, user.id)
  const status =
    page.status === 'live'
      ? inArray(sessions.status, [...LIVE_SESSION_STATUSES])
      : page.status === 'ended'
        ? inArray(sessions.status, [...ENDED_SESSION_STATUSES])
        : page.status
          ? eq(sessions.status, page.status)
          : undefined
  const after = page.cursor ? decodeCursor(page.cursor) : undefined
  const older = after
    ? or(
        lt(sessions.createdAt, after.createdAt),
        and(eq(sessions.createdAt, after.createdAt), lt(sessions.id, after.id)),
      )
    : undefined
  const rows = await ctx.db
    .select()
    .from(sessions)
    .where(
      and(
        eq(sessions.remoteMachineId, machineId),
        eq(sessions.tenantId, machine.tenantId),
        gte(sessions.createdAt, machine.createdAt),
        mine,
        status,
        older,
      ),
    )
    .orderBy(desc(sessions.createdAt), desc(sessions.id))
    .limit(page.limit + 1)
  const shown = rows.slice(0, page.limit)
  return {
    sessions: shown.map(machineSessionView),
    next_cursor: rows.length > page.limit ? encodeCursor(shown[shown.length - 1]!) : null,
  }
}

export async function assignUser(
  ctx: AppContext,
  actor: Actor,
  caller: UserRow,
  machineId: string,
  input: { userId: number; permission?: MachinePermission },
) {
  const { machine, role } = await requireMachineAdmin(ctx, caller, machineId, {
    actor,
    event: 'machine.assign',
  })
  const permission: MachinePermission = input.permission ?? 'user'
  // Machine admins may only hand out plain use: asking for more is refused, never downgraded.
  if (role !== 'system_admin' && permission === 'admin') {
    await ctx.audit(
      'machine.assign',
      actor,
      { type: 'machine', id: machineId },
      { user_id: input.userId, permission },
      { outcome: 'denied', tenantId: machine.tenantId },
    )
    throw forbidden('Only system administrators can make a user administrator of a machine')
  }
  const [target] = await ctx.db.select().from(users).where(eq(users.id, input.userId)).limit(1)
  if (!target || target.tenantId !== machine.tenantId) throw notFound('User')
  const [current] = await ctx.db
    .select({ permission: machineAssignments.permission })
    .from(machineAssignments)
    .where(and(eq(machineAssignments.machineId, machineId), eq(machineAssignments.userId, input.userId)))
  if (role !== 'system_admin' && current?.permission === 'admin') {
    await ctx.audit(
      'machine.assign',
      actor,
      { type: 'machine', id: machineId },
      { user_id: input.userId },
      {
        outcome: 'denied',
        tenantId: machine.tenantId,
      },
    )
    throw forbidden("Machine administrators cannot change another administrator's access")
  }
  const now = ctx.now()
  await ctx.db
    .insert(machineAssignments)
    .values({
      machineId,
      userId: input.userId,
      permission,
      assignedBy: caller.id,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoUpdate({
      target: [machineAssignments.machineId, machineAssignments.userId],
      set: { permission, assignedBy: caller.id, updatedAt: now },
    })
  await publishMachineChange(ctx, 'assignment', machineId, { user_id: input.userId })
  // A machine admin made a plain user stops watching others' sessions.
  if (current?.permission === 'admin' && permission === 'user')
    await revokeAccess(ctx, 'role_changed', { user_id: input.userId, machine_id: machineId })
  await ctx.audit(
    'machine.assign',
    actor,
    { type: 'machine', id: machineId },
    { user_id: input.userId, permission, previous: current?.permission ?? null },
    { tenantId: machine.tenantId },
  )
  return { machine_id: machineId, user_id: input.userId, permission }
}

export async function unassignUser(
  ctx: AppContext,
  actor: Actor,
  caller: UserRow,
  machineId: string,
  userId: number,
) {
  const { machine, role } = await requireMachineAdmin(ctx, caller, machineId, {
    actor,
    event: 'machine.unassign',
  })
  const where = and(eq(machineAssignments.machineId, machineId), eq(machineAssignments.userId, userId))
  const [current] = await ctx.db
    .select({ permission: machineAssignments.permission })
    .from(machineAssignments)
    .where(where)
  if (!current) throw notFound('Assignment')
  if (role !== 'system_admin' && current.permission === 'admin') {
    await ctx.audit(
      'machine.unassign',
      actor,
      { type: 'machine', id: machineId },
      { user_id: userId },
      {
        outcome: 'denied',
        tenantId: machine.tenantId,
      },
    )
    throw forbidden('Machine administrators cannot revoke another administrator')
  }
  await ctx.db.delete(machineAssignments).where(where)
  await publishMachineChange(ctx, 'assignment', machineId, { user_id: userId })
  const { sessionsStopped } = await revokeAccess(ctx, 'unassigned', {
    user_id: userId,
    machine_id: machineId,
  })
  await ctx.audit(
    'machine.unassign',
    actor,
    { type: 'machine', id: machineId },
    { user_id: userId, permission: current.permission, sessions_ended: sessionsStopped.length },
    { tenantId: machine.tenantId },
  )
  return { machine_id: machineId, user_id: userId, revoked: true as const }
}
