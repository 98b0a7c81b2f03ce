// The usage views behind GET /api/usage/breakdown and its CSV export: the proxy's ledger summed
// per day, user, provider, model, key and machine over a range of UTC days, priced from the
// price table (input and output apart), with each user's standing against their limits so an
// over-limit value can be shown as such. System admins see everyone; others only themselves.
import { and, eq, gte, inArray, type SQL, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import {
  apiKeyStore,
  type LlmProvider,
  modelPrices,
  PRICE_CURRENCY,
  quotaUsage,
  remoteMachines,
  users,
} from '../db/schema/index.ts'
import { forbidden } from '../errors.ts'
import { flushUsage } from './ledger.ts'
import { loadEffectiveLimits, usedSince } from './service.ts'

export const USAGE_GROUPS = ['day', 'user', 'provider', 'model', 'key', 'machine'] as const
export type UsageGroup = (typeof USAGE_GROUPS)[number]
const DAY_MS = 86_400_000

export interface UsageFilter {
  days: number
  userId?: number
  provider?: LlmProvider
  model?: string
  keyId?: number
  machineId?: string
}

export interface Viewer {
  id: number
  role: string
}

const GROUP_SQL: Record<UsageGroup, SQL<string>> = {
  day: sql<string>`to_char(${quotaUsage.ts} at time zone 'UTC', 'YYYY-MM-DD')`,
  user: sql<string>`${quotaUsage.userId}::text`,
  provider: sql<string>`${quotaUsage.provider}`,
  model: sql<string>`coalesce(${quotaUsage.model}, '')`,
  key: sql<string>`coalesce(${quotaUsage.apiKeyId}::text, '')`,
  machine: sql<string>`coalesce(${quotaUsage.machineId}, '')`,
}

const SUMS = {
  input: sql<string>`coalesce(sum(${quotaUsage.inputTokens}), 0)`,
  output: sql<string>`coalesce(sum(${quotaUsage.outputTokens}), 0)`,
  requests: sql<string>`coalesce(sum(${quotaUsage.requests}), 0)`,
  cost: sql<
    number | null
  >`sum((${quotaUsage.inputTokens}::float8 * ${modelPrices.inputPerMillion} + ${quotaUsage.outputTokens}::float8 * ${modelPrices.outputPerMillion}) / 1000000)`,
  unpriced: sql<string>`coalesce(sum(case when ${modelPrices.id} is null then ${quotaUsage.inputTokens} + ${quotaUsage.outputTokens} else 0 end), 0)`,
}

export interface UsageRow {
  key: string
  label: string | null
  input_tokens: number
  output_tokens: number
  total_tokens: number
  requests: number
  /** Cost of the priced part (null: none of it has a price). */
  cost: number | null
  /** Tokens of models without a price (not in `cost`). */
  unpriced_tokens: number
}

type SumRow = { input: string; output: string; requests: string; cost: number | null; unpriced: string }

function usageRow(key: string, label: string | null, r: SumRow): UsageRow {
  const input = Number(r.input)
  const output = Number(r.output)
  return {
    key,
    label,
    input_tokens: input,
    output_tokens: output,
    total_tokens: input + output,
    requests: Number(r.requests),
    cost: r.cost == null ? null : Math.round(Number(r.cost) * 1e6) / 1e6,
    unpriced_tokens: Number(r.unpriced),
  }
}

/** The first UTC day of a range of `days` days ending today. */
export function rangeStart(now: Date, days: number): Date {
  return new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()) - (days - 1) * DAY_MS)
}

function whereOf(filter: UsageFilter, from: Date): SQL {
  const where: SQL[] = [gte(quotaUsage.ts, from)]
  if (filter.userId !== undefined) where.push(eq(quotaUsage.userId, filter.userId))
  if (filter.provider) where.push(eq(quotaUsage.provider, filter.provider))
  if (filter.model !== undefined) where.push(sql`coalesce(${quotaUsage.model}, '') = ${filter.model}`)
  if (filter.keyId !== undefined) where.push(eq(quotaUsage.apiKeyId, filter.keyId))
  if (filter.machineId !== undefined) where.push(eq(quotaUsage.machineId, filter.machineId))
  return and(...where)!
}

/** A usage row's price: its provider's model in the price table. */
const PRICED = and(eq(modelPrices.provider, quotaUsage.provider), eq(modelPrices.model, quotaUsage.model))

/** Sums per value of `groups` (several: one row per combination, keys joined by '|'). */
async function summed(ctx: AppContext, where: SQL, groups: UsageGroup[]) {
  const keys = groups.map((g) => GROUP_SQL[g])
  const key = keys.length === 1 ? keys[0]! : sql<string>`concat_ws('|', ${sql.join(keys, sql`, `)})`
  return ctx.db
    .select({ key, ...SUMS })
    .from(quotaUsage)
    .leftJoin(modelPrices, PRICED)
    .where(where)
    .groupBy(...keys)
    .orderBy(...keys)
}

/** Names for the ids a breakdown shows: users, keys and machines (deleted keys keep `#id`). */
async function labels(ctx: AppContext, userIds: number[], keyIds: number[], machineIds: string[]) {
  const [u, k, m] = await Promise.all([
    userIds.length
      ? ctx.db
          .select({ id: users.id, name: users.username, tenantId: users.tenantId })
          .from(users)
          .where(inArray(users.id, userIds))
      : [],
    keyIds.length
      ? ctx.db
          .select({ id: apiKeyStore.id, name: apiKeyStore.keyName })
          .from(apiKeyStore)
          .where(inArray(apiKeyStore.id, keyIds))
      : [],
    machineIds.length
      ? ctx.db
          .select({ id: remoteMachines.machineId, name: remoteMachines.name })
          .from(remoteMachines)
          .where(inArray(remoteMachines.machineId, machineIds))
      : [],
  ])
  return {
    users: new Map(u.map((r) => [String(r.id), r])),
    keys: new Map(k.map((r) => [String(r.id), r.name])),
    machines: new Map(m.map((r) => [r.id, r.name])),
  }
}

function assertMayView(viewer: Viewer, filter: UsageFilter): UsageFilter {
  if (viewer.role === 'system_admin') return filter
  if (filter.userId !== undefined && filter.userId !== viewer.id)
    throw forbidden('You can only see your own usage')
  return { ...filter, userId: viewer.id }
}

/** Every split of the filtered usage at once, with totals, labels, prices and limits. */
export async function usageBreakdown(ctx: AppContext, viewer: Viewer, requested: UsageFilter) {
  const filter = assertMayView(viewer, requested)
  await flushUsage(ctx)
  const now = ctx.now()
  const from = rangeStart(now, filter.days)
  const where = whereOf(filter, from)
  const [total] = await ctx.db.select(SUMS).from(quotaUsage).leftJoin(modelPrices, PRICED).where(where)
  const split: Record<UsageGroup, Awaited<ReturnType<typeof summed>>> = {
    day: [],
    user: [],
    provider: [],
    model: [],
    key: [],
    machine: [],
  }
  for (const group of USAGE_GROUPS) split[group] = await summed(ctx, where, [group])
  const names = await labels(
    ctx,
    split.user.map((r) => Number(r.key)),
    split.key.filter((r) => r.key).map((r) => Number(r.key)),
    split.machine.filter((r) => r.key).map((r) => r.key),
  )
  const byUser = await Promise.all(
    split.user.map(async (r) => {
      const user = names.users.get(r.key)
      const limits = user ? await loadEffectiveLimits(ctx, user.id, user.tenantId) : null
      const used = user ? await usedSince(ctx, user.id, now) : null
      return {
        ...usageRow(r.key, user?.name ?? `#${r.key}`, r),
        today_tokens: used?.dayTokens ?? 0,
        daily_token_limit: limits?.dailyTokenLimit ?? null,
        month_tokens: used?.monthTokens ?? 0,
        monthly_token_limit: limits?.monthlyTokenLimit ?? null,
      }
    }),
  )
  // One user's days can be held against that user's daily limit.
  const dayLimit = filter.userId !== undefined && byUser.length === 1 ? byUser[0]!.daily_token_limit : null
  return {
    from: from.toISOString(),
    days: filter.days,
    currency: PRICE_CURRENCY,
    filter: {
      user_id: filter.userId ?? null,
      provider: filter.provider ?? null,
      model: filter.model ?? null,
      key_id: filter.keyId ?? null,
      machine_id: filter.machineId ?? null,
    },
    totals: usageRow('total', null, total!),
    by_day: split.day.map((r) => ({ ...usageRow(r.key, r.key, r), daily_token_limit: dayLimit })),
    by_user: byUser,
    by_provider: split.provider.map((r) => usageRow(r.key, r.key, r)),
    by_model: split.model.map((r) => usageRow(r.key, r.key || null, r)),
    by_key: split.key.map((r) => usageRow(r.key, r.key ? (names.keys.get(r.key) ?? `#${r.key}`) : null, r)),
    by_machine: split.machine.map((r) =>
      usageRow(r.key, r.key ? (names.machines.get(r.key) ?? r.key.slice(0, 8)) : null, r),
    ),
  }
}

/** Rows for the CSV export: one per combination of `groups` (all six: the finest split). */
export async function usageExportRows(
  ctx: AppContext,
  viewer: Viewer,
  requested: UsageFilter,
  groups: UsageGroup[],
) {
  const filter = assertMayView(viewer, requested)
  await flushUsage(ctx)
  const rows = await summed(ctx, whereOf(filter, rangeStart(ctx.now(), filter.days)), groups)
  const parts = rows.map((r) => ({ values: r.key.split('|'), row: usageRow(r.key, null, r) }))
  const col = (g: UsageGroup) => groups.indexOf(g)
  const ids = (g: UsageGroup) =>
    col(g) < 0 ? [] : [...new Set(parts.map((p) => p.values[col(g)]!).filter(Boolean))]
  const names = await labels(ctx, ids('user').map(Number), ids('key').map(Number), ids('machine'))
  const label = (g: UsageGroup, v: string) =>
    g === 'user'
      ? (names.users.get(v)?.name ?? `#${v}`)
      : g === 'key'
        ? v && (names.keys.get(v) ?? `#${v}`)
        : g === 'machine'
          ? v && (names.machines.get(v) ?? v)
          : v
  return parts.map((p) => ({ groups: groups.map((g, i) => label(g, p.values[i] ?? '')), row: p.row }))
}
