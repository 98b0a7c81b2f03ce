// Quota administration (set, list, clear limits; audited) and the usage report behind
// GET /api/usage: per-day totals from the proxy's ledger plus where the user stands today.
import { and, asc, eq, gte, sql } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { type QuotaScope, quotaLimits, quotaUsage, tenants, users } from '../db/schema/index.ts'
import { forbidden, notFound } from '../errors.ts'
import { flushUsage } from './ledger.ts'
import { loadEffectiveLimits, type QuotaLimits, quotaLimitsChanged, usedSince } from './service.ts'

type LimitsRow = typeof quotaLimits.$inferSelect

function publicQuota(row: LimitsRow) {
  return {
    scope: row.scope,
    subject_id: row.subjectId,
    daily_token_limit: row.dailyTokenLimit,
    monthly_token_limit: row.monthlyTokenLimit,
    daily_request_limit: row.dailyRequestLimit,
    monthly_request_limit: row.monthlyRequestLimit,
    updated_at: row.updatedAt.toISOString(),
  }
}

export async function listQuotas(ctx: AppContext) {
  const rows = await ctx.db
    .select()
    .from(quotaLimits)
    .orderBy(asc(quotaLimits.scope), asc(quotaLimits.subjectId))
  return rows.map(publicQuota)
}

async function assertSubject(ctx: AppContext, scope: QuotaScope, id: number) {
  const table = scope === 'user' ? users : tenants
  const [row] = await ctx.db.select({ id: table.id }).from(table).where(eq(table.id, id)).limit(1)
  if (!row) throw notFound(scope === 'user' ? 'User' : 'Tenant')
}

export async function setQuota(
  ctx: AppContext,
  actor: Actor,
  scope: QuotaScope,
  subjectId: number,
  limits: QuotaLimits,
) {
  await assertSubject(ctx, scope, subjectId)
  const values = { ...limits, updatedAt: ctx.now() }
  const [row] = await ctx.db
    .insert(quotaLimits)
    .values({ scope, subjectId, ...values })
    .onConflictDoUpdate({ target: [quotaLimits.scope, quotaLimits.subjectId], set: values })
    .returning()
  await quotaLimitsChanged(ctx)
  await ctx.audit('quota.set', actor, { type: scope, id: subjectId }, { ...publicQuota(row!) })
  return publicQuota(row!)
}

export async function clearQuota(ctx: AppContext, actor: Actor, scope: QuotaScope, subjectId: number) {
  const deleted = await ctx.db
    .delete(quotaLimits)
    .where(and(eq(quotaLimits.scope, scope), eq(quotaLimits.subjectId, subjectId)))
    .returning({ id: quotaLimits.id })
  if (!deleted.length) throw notFound('Quota')
  await quotaLimitsChanged(ctx)
  await ctx.audit('quota.clear', actor, { type: scope, id: subjectId })
}

const DAY_MS = 86_400_000

/** Usage of one user over the last `days` UTC days; others' usage is for system admins only. */
export async function usageReport(
  ctx: AppContext,
  viewer: { id: number; role: string },
  userId: number,
  days: number,
) {
  if (userId !== viewer.id && viewer.role !== 'system_admin')
    throw forbidden('You can only see your own usage')
  const [user] = await ctx.db
    .select({ id: users.id, tenantId: users.tenantId })
    .from(users)
    .where(eq(users.id, userId))
    .limit(1)
  if (!user) throw notFound('User')
  await flushUsage(ctx)
  const now = ctx.now()
  const from = new Date(
    Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (days - 1) * DAY_MS,
  )
  const day = sql<string>`to_char(${quotaUsage.ts} at time zone 'UTC', 'YYYY-MM-DD')`
  const rows = await ctx.db
    .select({
      date: day,
      input: sql<string>`sum(${quotaUsage.inputTokens})`,
      output: sql<string>`sum(${quotaUsage.outputTokens})`,
      requests: sql<string>`sum(${quotaUsage.requests})`,
    })
    .from(quotaUsage)
    .where(and(eq(quotaUsage.userId, userId), gte(quotaUsage.ts, from)))
    .groupBy(day)
    .orderBy(day)
  const perDay = rows.map((r) => ({
    date: r.date,
    input_tokens: Number(r.input),
    output_tokens: Number(r.output),
    total_tokens: Number(r.input) + Number(r.output),
    requests: Number(r.requests),
  }))
  const limits = await loadEffectiveLimits(ctx, userId, user.tenantId)
  const used = await usedSince(ctx, userId, now)
  return {
    user_id: userId,
    from: from.toISOString(),
    days: perDay,
    totals: {
      input_tokens: perDay.reduce((s, d) => s + d.input_tokens, 0),
      output_tokens: perDay.reduce((s, d) => s + d.output_tokens, 0),
      total_tokens: perDay.reduce((s, d) => s + d.total_tokens, 0),
      requests: perDay.reduce((s, d) => s + d.requests, 0),
    },
    quota: {
      daily_token_limit: limits?.dailyTokenLimit ?? null,
      monthly_token_limit: limits?.monthlyTokenLimit ?? null,
      daily_request_limit: limits?.dailyRequestLimit ?? null,
      monthly_request_limit: limits?.monthlyRequestLimit ?? null,
      today_tokens: used.dayTokens,
      today_requests: used.dayRequests,
      month_tokens: used.monthTokens,
      month_requests: used.monthRequests,
    },
  }
}
