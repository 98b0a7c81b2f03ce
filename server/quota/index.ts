// /api/quotas (system admins set per-user limits and tenant defaults) and /api/usage (a user's
// own usage per day; admins may ask for anyone's).
import { Elysia, type Static, t } from 'elysia'
import { agentGuard } from '../agents/guard.ts'
import type { Actor } from '../audit/service.ts'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import type { QuotaScope } from '../db/schema/index.ts'
import { OkAnswer } from '../http/schema.ts'
import { subscribeLive } from '../live/bus.ts'
import { liveListRoute } from '../live/stream.ts'
import { clearQuota, listQuotas, setQuota, usageReport } from './admin.ts'
import { usageChangeFor } from './live.ts'
import {
  PublicQuota,
  QuotaAnswer,
  QuotaBody,
  SubjectParams,
  UsageQuery,
  UsageReport,
  UsageReportBody,
  UsageReportStored,
} from './model.ts'
import { storeUsageReport } from './reports.ts'
import { startQuotaSync } from './service.ts'

const DEFAULT_USAGE_DAYS = 30

export function quotaRoutes(ctx: AppContext) {
  const put = async (scope: QuotaScope, id: number, body: Static<typeof QuotaBody>, actor: Actor) => ({
    quota: await setQuota(ctx, actor, scope, id, {
      dailyTokenLimit: body.daily_token_limit ?? null,
      monthlyTokenLimit: body.monthly_token_limit ?? null,
      dailyRequestLimit: body.daily_request_limit ?? null,
      monthlyRequestLimit: body.monthly_request_limit ?? null,
    }),
  })
  const remove = async (scope: QuotaScope, id: number, actor: Actor) => {
    await clearQuota(ctx, actor, scope, id)
    return { ok: true as const }
  }
  const admin = { auth: 'system_admin' as const, params: SubjectParams }
  startQuotaSync(ctx)
  return new Elysia({ name: 'quota', seed: ctx.id })
    .use(authGuard(ctx))
    .use(agentGuard(ctx))
    .get(
      '/api/usage',
      ({ query, user }) => usageReport(ctx, user, query.user_id ?? user.id, query.days ?? DEFAULT_USAGE_DAYS),
      {
        auth: true,
        query: UsageQuery,
        response: UsageReport,
        detail: { summary: 'Token and request usage per day (own; admins: any user)' },
      },
    )
    .get(
      '/api/usage/events',
      ...liveListRoute(ctx, {
        subscribe: (listener) => subscribeLive(ctx, (change) => change.topic === 'usage' && listener(change)),
        filter: async (reader, change) => usageChangeFor(reader, change),
        summary:
          'Live usage (SSE): `ready`, then `changed {ids}` (user ids) when usage the caller may read was recorded; refetch on either',
      }),
    )
    .post(
      '/api/remote/usage-report',
      async ({ agent, body }) => {
        const { duplicate } = await storeUsageReport(ctx, agent, {
          reportId: body.report_id,
          sessionId: body.session_id,
          model: body.model,
          tool: body.tool,
          usage: body.usage,
          requests: body.requests,
        })
        return { ok: true as const, duplicate }
      },
      {
        agentAuth: true,
        body: UsageReportBody,
        response: UsageReportStored,
        detail: { summary: 'CLI-reported usage from an agent (agent token auth)' },
      },
    )
    .get('/api/quotas', async () => ({ quotas: await listQuotas(ctx) }), {
      auth: 'system_admin',
      response: t.Object({ quotas: t.Array(PublicQuota) }),
      detail: { summary: 'List quota limits' },
    })
    .put('/api/quotas/users/:id', ({ params, body, actor }) => put('user', params.id, body, actor), {
      ...admin,
      body: QuotaBody,
      response: QuotaAnswer,
      detail: { summary: "Set a user's quota" },
    })
    .put('/api/quotas/tenants/:id', ({ params, body, actor }) => put('tenant', params.id, body, actor), {
      ...admin,
      body: QuotaBody,
      response: QuotaAnswer,
      detail: { summary: "Set a tenant's default quota" },
    })
    .delete('/api/quotas/users/:id', ({ params, actor }) => remove('user', params.id, actor), {
      ...admin,
      response: OkAnswer,
      detail: { summary: "Remove a user's quota" },
    })
    .delete('/api/quotas/tenants/:id', ({ params, actor }) => remove('tenant', params.id, actor), {
      ...admin,
      response: OkAnswer,
      detail: { summary: "Remove a tenant's default quota" },
    })
}
