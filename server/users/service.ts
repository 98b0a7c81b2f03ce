// User administration for system admins: list, create, update, delete. Every change is audited;
// disabling, moving, demoting or deleting a user ends what their access allowed (revokeAccess),
// and a password change ends their browser logins.
import { and, asc, eq, ne, type SQL, sql } from 'drizzle-orm'
import type { AccessRevokedReason } from '../access/events.ts'
import { revokeAccess } from '../access/revoke.ts'
import type { Actor } from '../audit/service.ts'
import { hashPassword } from '../auth/password.ts'
import { revokeUserSessions } from '../auth/service.ts'
import { findUserById, findUserByUsername, publicUser, type UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import {
  machineAssignments,
  remoteMachines,
  tenants,
  type UserRole,
  type UserStatus,
  users,
} from '../db/schema/index.ts'
import { badRequest, conflict, HttpError, notFound } from '../errors.ts'

export async function listUsers(ctx: AppContext, filter: { tenantId?: number }) {
  const where: SQL[] = []
  if (filter.tenantId !== undefined) where.push(eq(users.tenantId, filter.tenantId))
  const rows = await ctx.db
    .select()
    .from(users)
    .where(where.length ? and(...where) : undefined)
    .orderBy(asc(users.id))
  return rows.map(publicUser)
}

async function assertTenantExists(ctx: AppContext, tenantId: number) {
  const [row] = await ctx.db.select({ id: tenants.id }).from(tenants).where(eq(tenants.id, tenantId)).limit(1)
  if (!row) throw badRequest(`Tenant ${tenantId} does not exist`, 'tenant_id')
}

export interface CreateUserInput {
  username: string
  password: string
  role?: UserRole
  tenantId?: number
  displayName?: string
  email?: string
}

export async function createUser(ctx: AppContext, actor: Actor, input: CreateUserInput) {
  const tenantId = input.tenantId ?? actor.tenantId ?? 1
  await assertTenantExists(ctx, tenantId)
  if (await findUserByUsername(ctx.db, input.username)) {
    throw new HttpError(409, `A user named '${input.username}' already exists`, 'conflict', 'username')
  }
  const [row] = await ctx.db
    .insert(users)
    .values({
      tenantId,
      username: input.username,
      passwordHash: await hashPassword(input.password),
      role: input.role ?? 'user',
      displayName: input.displayName ?? null,
      email: input.email ?? null,
    })
    .onConflictDoNothing()
    .returning()
  if (!row)
    throw new HttpError(409, `A user named '${input.username}' already exists`, 'conflict', 'username')
  await ctx.audit(
    'user.create',
    actor,
    { type: 'user', id: row.id },
    { username: row.username, role: row.role, tenant_id: tenantId },
  )
  return publicUser(row)
}

export interface UpdateUserInput {
  password?: string
  role?: UserRole
  status?: UserStatus
  tenantId?: number
  displayName?: string | null
  email?: string | null
}

export async function updateUser(ctx: AppContext, actor: Actor, id: number, input: UpdateUserInput) {
  const existing = await findUserById(ctx.db, id)
  if (!existing) throw notFound('User')
  if (String(actor.id) === String(id) && (input.role === 'user' || input.status === 'disabled')) {
    throw conflict('You cannot demote or disable your own account')
  }
  if (input.tenantId !== undefined) await assertTenantExists(ctx, input.tenantId)
  const patch: Partial<UserRow> = { updatedAt: ctx.now() }
  if (input.password !== undefined) patch.passwordHash = await hashPassword(input.password)
  if (input.role !== undefined) patch.role = input.role
  if (input.status !== undefined) patch.status = input.status
  if (input.tenantId !== undefined) patch.tenantId = input.tenantId
  if (input.displayName !== undefined) patch.displayName = input.displayName
  if (input.email !== undefined) patch.email = input.email
  const tenantChanged = input.tenantId !== undefined && input.tenantId !== existing.tenantId
  const [row] = await ctx.db.transaction(async (tx) => {
    // Assignments never cross tenants: a user moved away loses the old tenant's machines.
    if (tenantChanged)
      await tx
        .delete(machineAssignments)
        .where(
          and(
            eq(machineAssignments.userId, id),
            sql`${machineAssignments.machineId} in (select ${remoteMachines.machineId} from ${remoteMachines} where ${ne(remoteMachines.tenantId, input.tenantId!)})`,
          ),
        )
    return tx.update(users).set(patch).where(eq(users.id, id)).returning()
  })
  // A change that takes nothing away (a name, a promotion) is not published: this instance
  // reads the user again at once, others within the access cache's lifetime.
  ctx.state.accessCache.drop({ user_id: id })
  if (input.password !== undefined || input.status === 'disabled') await revokeUserSessions(ctx, id)
  for (const reason of revocationsOf(existing, input, tenantChanged))
    await revokeAccess(ctx, reason, { user_id: id })
  const changed = Object.keys(input).filter((k) => k !== 'password')
  await ctx.audit(
    'user.update',
    actor,
    { type: 'user', id },
    { changed, password_changed: input.password !== undefined },
  )
  return publicUser(row!)
}

/** What a change to a user takes away, in the order it is published. */
function revocationsOf(existing: UserRow, input: UpdateUserInput, tenantChanged: boolean) {
  const reasons: AccessRevokedReason[] = []
  if (input.status === 'disabled' && existing.status !== 'disabled') reasons.push('user_disabled')
  if (tenantChanged) reasons.push('tenant_changed')
  if (input.role === 'user' && existing.role === 'system_admin') reasons.push('role_changed')
  if (input.password !== undefined) reasons.push('password_changed')
  return reasons
}

export async function deleteUser(ctx: AppContext, actor: Actor, id: number) {
  if (String(actor.id) === String(id)) throw conflict('You cannot delete your own account')
  // Disabled first, so the rule refuses everything at once; their sessions are stopped (the
  // session.stop commands outlive the rows the delete cascades away), then the row goes.
  const disabled = await ctx.db
    .update(users)
    .set({ status: 'disabled', updatedAt: ctx.now() })
    .where(eq(users.id, id))
    .returning({ id: users.id })
  if (disabled.length === 0) throw notFound('User')
  await revokeUserSessions(ctx, id)
  await revokeAccess(ctx, 'user_deleted', { user_id: id }, { linkCommands: false })
  const deleted = await ctx.db
    .delete(users)
    .where(eq(users.id, id))
    .returning({ id: users.id, username: users.username })
  if (deleted.length === 0) throw notFound('User')
  await ctx.audit(
    'user.delete',
    actor,
    { type: 'user', id, name: deleted[0]!.username },
    { username: deleted[0]!.username },
  )
}
