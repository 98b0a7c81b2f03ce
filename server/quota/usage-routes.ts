// /api/usage/breakdown (usage per day, user, provider, model, key and machine, priced; own for
// everyone, anyone's for system admins), /api/usage/export.csv (the same filters as CSV) and
// /api/usage/prices (the price table: everyone reads, system admins set).
import { Elysia, type Static, t } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { LLM_PROVIDERS } from '../db/schema/index.ts'
import { csvDate, csvResponse } from '../http/csv.ts'
import { OkAnswer, oneOf } from '../http/schema.ts'
import {
  USAGE_GROUPS,
  type UsageFilter,
  type UsageGroup,
  usageBreakdown,
  usageExportRows,
} from './breakdown.ts'
import { PublicPrice, UsageBreakdown } from './model.ts'
import { deletePrice, listPrices, setPrice } from './prices.ts'

const DEFAULT_DAYS = 30

const UsageFilterQuery = t.Object({
  days: t.Optional(t.Integer({ minimum: 1, maximum: 366 })),
  user_id: t.Optional(t.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  provider: t.Optional(oneOf(LLM_PROVIDERS)),
  model: t.Optional(t.String({ maxLength: 200 })),
  key_id: t.Optional(t.Integer({ minimum: 1, maximum: 2_147_483_647 })),
  machine_id: t.Optional(t.String({ minLength: 1, maxLength: 128 })),
})

const GROUP_LIST = `^(${USAGE_GROUPS.join('|')})(,(${USAGE_GROUPS.join('|')}))*$`

const PriceBody = t.Object({
  provider: oneOf(LLM_PROVIDERS),
  model: t.String({ minLength: 1, maxLength: 200 }),
  input_per_million: t.Number({ minimum: 0, maximum: 1_000_000 }),
  output_per_million: t.Number({ minimum: 0, maximum: 1_000_000 }),
})

function filterOf(query: Static<typeof UsageFilterQuery>): UsageFilter {
  return {
    days: query.days ?? DEFAULT_DAYS,
    userId: query.user_id,
    provider: query.provider,
    model: query.model,
    keyId: query.key_id,
    machineId: query.machine_id,
  }
}

const COLUMNS = ['input_tokens', 'output_tokens', 'total_tokens', 'requests', 'cost_usd', 'unpriced_tokens']

export function usageRoutes(ctx: AppContext) {
  return new Elysia({ name: 'usage', seed: ctx.id, prefix: '/api/usage' })
    .use(authGuard(ctx))
    .get('/breakdown', ({ query, user }) => usageBreakdown(ctx, user, filterOf(query)), {
      auth: true,
      query: UsageFilterQuery,
      response: UsageBreakdown,
      detail: {
        summary:
          'Usage per day, user, provider, model, key and machine with cost (own; system admins: all or one user)',
      },
    })
    .get(
      '/export.csv',
      async ({ query, user }) => {
        const groups = (query.group_by ?? 'day').split(',') as UsageGroup[]
        const rows = await usageExportRows(ctx, user, filterOf(query), [...new Set(groups)])
        return csvResponse(
          `usage-${[...new Set(groups)].join('-')}-${csvDate(ctx.now())}.csv`,
          [...new Set(groups), ...COLUMNS],
          rows.map(({ groups: values, row }) => [
            ...values,
            row.input_tokens,
            row.output_tokens,
            row.total_tokens,
            row.requests,
            row.cost ?? '',
            row.unpriced_tokens,
          ]),
        )
      },
      {
        auth: true,
        query: t.Composite([
          UsageFilterQuery,
          t.Object({ group_by: t.Optional(t.String({ pattern: GROUP_LIST })) }),
        ]),
        detail: {
          summary: `Usage as CSV, one row per combination of group_by (comma-separated: ${USAGE_GROUPS.join(', ')}; default day)`,
        },
      },
    )
    .get('/prices', async () => ({ prices: await listPrices(ctx) }), {
      auth: true,
      response: t.Object({ prices: t.Array(PublicPrice) }),
      detail: { summary: 'The price table (per million tokens, input and output)' },
    })
    .put(
      '/prices',
      async ({ body, actor }) => ({
        price: await setPrice(ctx, actor, {
          provider: body.provider,
          model: body.model,
          inputPerMillion: body.input_per_million,
          outputPerMillion: body.output_per_million,
        }),
      }),
      {
        auth: 'system_admin',
        body: PriceBody,
        response: t.Object({ price: PublicPrice }),
        detail: { summary: "Set a model's price (replaces an earlier one)" },
      },
    )
    .delete(
      '/prices/:id',
      async ({ params, actor }) => {
        await deletePrice(ctx, actor, params.id)
        return { ok: true as const }
      },
      {
        auth: 'system_admin',
        params: t.Object({ id: t.Integer({ minimum: 1, maximum: 2_147_483_647 }) }),
        response: OkAnswer,
        detail: { summary: "Remove a model's price" },
      },
    )
}
