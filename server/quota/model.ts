// Schemas of the quota admin API, /api/usage and the price table. Row-backed fields come from
// the tables (drizzle-typebox); sums and timestamps are what the services compute.
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { Id, TokenUsage } from '../../protocol/index.ts'
import { modelPrices, PRICE_CURRENCY, quotaLimits } from '../db/schema/index.ts'
import { IsoTime } from '../http/schema.ts'

// Bounded so a huge number is a 400, not a bigint overflow in the database.
const Limit = t.Union([t.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER }), t.Null()])

export const QuotaBody = t.Object({
  daily_token_limit: t.Optional(Limit),
  monthly_token_limit: t.Optional(Limit),
  daily_request_limit: t.Optional(Limit),
  monthly_request_limit: t.Optional(Limit),
})

export const SubjectParams = t.Object({ id: t.Integer({ minimum: 1 }) })

export const UsageQuery = t.Object({
  user_id: t.Optional(t.Integer({ minimum: 1 })),
  days: t.Optional(t.Integer({ minimum: 1, maximum: 366 })),
})

export const UsageReportBody = t.Object({
  report_id: Id,
  session_id: t.String({ format: 'uuid' }),
  model: t.Optional(t.String({ maxLength: 200 })),
  tool: t.Optional(t.String({ maxLength: 100 })),
  usage: TokenUsage,
  requests: t.Optional(t.Integer({ minimum: 0, maximum: 1_000_000 })),
})

const limits = createSelectSchema(quotaLimits).properties
const price = createSelectSchema(modelPrices).properties

/** A stored limit (admin.ts publicQuota); null: no limit of that kind. */
export const PublicQuota = t.Object({
  scope: limits.scope,
  subject_id: limits.subjectId,
  daily_token_limit: limits.dailyTokenLimit,
  monthly_token_limit: limits.monthlyTokenLimit,
  daily_request_limit: limits.dailyRequestLimit,
  monthly_request_limit: limits.monthlyRequestLimit,
  updated_at: IsoTime,
})

export const QuotaAnswer = t.Object({ quota: PublicQuota })

const Count = t.Integer({ minimum: 0 })
const Totals = { input_tokens: Count, output_tokens: Count, total_tokens: Count, requests: Count }

/** GET /api/usage (admin.ts usageReport): one user's days, totals and standing against the limits. */
export const UsageReport = t.Object({
  user_id: t.Integer(),
  from: IsoTime,
  days: t.Array(t.Object({ date: t.String(), ...Totals })),
  totals: t.Object(Totals),
  quota: t.Object({
    daily_token_limit: limits.dailyTokenLimit,
    monthly_token_limit: limits.monthlyTokenLimit,
    daily_request_limit: limits.dailyRequestLimit,
    monthly_request_limit: limits.monthlyRequestLimit,
    today_tokens: Count,
    today_requests: Count,
    month_tokens: Count,
    month_requests: Count,
  }),
})

export const UsageReportStored = t.Object({ ok: t.Literal(true), duplicate: t.Boolean() })

/** One line of a breakdown (breakdown.ts usageRow); `cost` null: none of it has a price. */
const UsageRow = {
  key: t.String(),
  label: t.Nullable(t.String()),
  ...Totals,
  cost: t.Nullable(t.Number()),
  unpriced_tokens: Count,
}

/** GET /api/usage/breakdown (breakdown.ts usageBreakdown). */
export const UsageBreakdown = t.Object({
  from: IsoTime,
  days: t.Integer(),
  currency: t.Literal(PRICE_CURRENCY),
  filter: t.Object({
    user_id: t.Nullable(t.Integer()),
    provider: t.Nullable(price.provider),
    model: t.Nullable(t.String()),
    key_id: t.Nullable(t.Integer()),
    machine_id: t.Nullable(t.String()),
  }),
  totals: t.Object(UsageRow),
  by_day: t.Array(t.Object({ ...UsageRow, daily_token_limit: limits.dailyTokenLimit })),
  by_user: t.Array(
    t.Object({
      ...UsageRow,
      today_tokens: Count,
      daily_token_limit: limits.dailyTokenLimit,
      month_tokens: Count,
      monthly_token_limit: limits.monthlyTokenLimit,
    }),
  ),
  by_provider: t.Array(t.Object(UsageRow)),
  by_model: t.Array(t.Object(UsageRow)),
  by_key: t.Array(t.Object(UsageRow)),
  by_machine: t.Array(t.Object(UsageRow)),
})

/** A model's price per million tokens (prices.ts publicPrice). */
export const PublicPrice = t.Object({
  id: price.id,
  provider: price.provider,
  model: price.model,
  input_per_million: price.inputPerMillion,
  output_per_million: price.outputPerMillion,
  currency: t.Literal(PRICE_CURRENCY),
  updated_at: IsoTime,
})
