// Tenants, for system admins (who are global: they see and manage every tenant). A tenant is
// deleted only while it holds no users and no registered machines; what is left of its past
// (deregistered machines, unused registration tokens, quota limits) goes with it.
import { and, asc, count, eq, isNotNull, isNull, sql } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import {
  quotaLimits,
  registrationTokens,
  remoteMachines,
  sessions,
  tenants,
  users,
} from '../db/schema/index.ts'
import { conflict, HttpError, notFound } from '../errors.ts'

type TenantRow = typeof tenants.$inferSelect

function tenantView(row: TenantRow, counts: { users: number; machines: number }) {
  return { id: row.id, name: row.name, created_at: row.createdAt.toISOString(), ...counts }
}

async function countsOf(ctx: AppContext, tenantId: number) {
  const [u] = await ctx.db.select({ n: count() }).from(users).where(eq(users.tenantId, tenantId))
  const [m] = await ctx.db
    .select({ n: count() })
    .from(remoteMachines)
    .where(and(eq(remoteMachines.tenantId, tenantId), isNull(remoteMachines.deletedAt)))
  return { users: Number(u?.n ?? 0), machines: Number(m?.n ?? 0) }
}

export async function listTenants(ctx: AppContext) {
  const [rows, userCounts, machineCounts] = await Promise.all([
    ctx.db.select().from(tenants).orderBy(asc(tenants.id)),
    ctx.db.select({ id: users.tenantId, n: count() }).from(users).groupBy(users.tenantId),
    ctx.db
      .select({ id: remoteMachines.tenantId, n: count() })
      .from(remoteMachines)
      .where(isNull(remoteMachines.deletedAt))
      .groupBy(remoteMachines.tenantId),
  ])
  const byTenant = (counts: Array<{ id: number; n: number }>) =>
    new Map(counts.map((c) => [c.id, Number(c.n)]))
  const u = byTenant(userCounts)
  const m = byTenant(machineCounts)
  return rows.map((r) => tenantView(r, { users: u.get(r.id) ?? 0, machines: m.get(r.id) ?? 0 }))
}

async function findTenant(ctx: AppContext, id: number): Promise<TenantRow> {
  const [row] = await ctx.db.select().from(tenants).where(eq(tenants.id, id)).limit(1)
  if (!row) throw notFound('Tenant')
  return row
}

const nameTaken = (name: string) =>
  new HttpError(409, `A tenant named '${name}' already exists`, 'conflict', 'name')

async function assertNameFree(ctx: AppContext, name: string, except?: number) {
  const [row] = await ctx.db
    .select({ id: tenants.id })
    .from(tenants)
    .where(eq(sql`lower(${tenants.name})`, name.toLowerCase()))
    .limit(1)
  if (row && row.id !== except) throw nameTaken(name)
}

export async function createTenant(ctx: AppContext, actor: Actor, input: { name: string }) {
  const name = input.name.trim()
  await assertNameFree(ctx, name)
  const [row] = await ctx.db.insert(tenants).values({ name }).onConflictDoNothing().returning()
  if (!row) throw nameTaken(name)
  await ctx.audit('tenant.create', actor, { type: 'tenant', id: row.id }, { name }, { tenantId: row.id })
  return tenantView(row, { users: 0, machines: 0 })
}

export async function updateTenant(ctx: AppContext, actor: Actor, id: number, input: { name: string }) {
  const existing = await findTenant(ctx, id)
  const name = input.name.trim()
  await assertNameFree(ctx, name, id)
  const [row] = await ctx.db.update(tenants).set({ name }).where(eq(tenants.id, id)).returning()
  await ctx.audit(
    'tenant.update',
    actor,
    { type: 'tenant', id },
    { name, previous: existing.name },
    { tenantId: id },
  )
  return tenantView(row!, await countsOf(ctx, id))
}

export async function deleteTenant(ctx: AppContext, actor: Actor, id: number) {
  const existing = await findTenant(ctx, id)
  const counts = await countsOf(ctx, id)
  if (counts.users > 0 || counts.machines > 0) {
    await ctx.audit(
      'tenant.delete',
      actor,
      { type: 'tenant', id },
      { ...counts },
      { outcome: 'denied', tenantId: id },
    )
    throw conflict(
      `Tenant '${existing.name}' still has ${counts.users} user(s) and ${counts.machines} machine(s); move or delete them first`,
    )
  }
  await ctx.db.transaction(async (tx) => {
    // Deregistered machines' rows take their sessions and history with them (cascade).
    await tx
      .delete(remoteMachines)
      .where(and(eq(remoteMachines.tenantId, id), isNotNull(remoteMachines.deletedAt)))
    await tx.delete(sessions).where(eq(sessions.tenantId, id))
    await tx.delete(registrationTokens).where(eq(registrationTokens.tenantId, id))
    await tx.delete(quotaLimits).where(and(eq(quotaLimits.scope, 'tenant'), eq(quotaLimits.subjectId, id)))
    await tx.delete(tenants).where(eq(tenants.id, id))
  })
  await ctx.audit(
    'tenant.delete',
    actor,
    { type: 'tenant', id, name: existing.name },
    { name: existing.name },
    { tenantId: id },
  )
  return { id, deleted: true as const }
}
