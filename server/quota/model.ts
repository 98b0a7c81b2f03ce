// Schemas of the quota admin API and GET /api/usage.
import { t } from 'elysia'
import { Id, TokenUsage } from '../../protocol/index.ts'

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
