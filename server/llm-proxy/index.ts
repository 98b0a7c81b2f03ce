// POST /api/remote/llm-proxy and ANY /api/remote/llm-proxy/*: the LLM proxy's HTTP surface. The
// body is left unparsed (parse: 'none') so it can be forwarded byte for byte, JSON or not.
// GET /api/remote/models: the model lists of the stored keys, for the UI's model picker;
// POST /api/remote/api-keys/{id}/test: one models call with that key, answered in words.
import { Elysia, t } from 'elysia'
import { ApiKeyIdParams, KeyTestResult } from '../api-keys/model.ts'
import { listApiKeys } from '../api-keys/service.ts'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { LLM_PROVIDERS } from '../db/schema/index.ts'
import { oneOf } from '../http/schema.ts'
import { keyHealthView } from './key-health.ts'
import { testApiKey } from './key-test.ts'
import { KeyHealth, KeyModels, PROXY_DETAIL } from './model.ts'
import { listModels } from './models.ts'
import { handleProxy, PROXY_PREFIX, type ProxyHooks } from './proxy.ts'

interface IdleTimeoutControl {
  timeout?(request: Request, seconds: number): void
}

/**
 * A model may think for minutes before its first byte, longer than the listener's idle timeout;
 * on Bun the timeout is lifted for proxied requests (elsewhere there is no such control).
 */
function keepOpen(server: unknown, request: Request) {
  ;(server as IdleTimeoutControl | null)?.timeout?.(request, 0)
}

export function llmProxyRoutes(ctx: AppContext, hooks: ProxyHooks = {}) {
  const detail = PROXY_DETAIL
  const handle = ({ request, server }: { request: Request; server: unknown }) => {
    keepOpen(server, request)
    return handleProxy(ctx, request, hooks)
  }
  // GET and HEAD are registered on their own: the UI's GET catch-all would shadow an `all` route.
  return new Elysia({ name: 'llm-proxy', seed: ctx.id })
    .all(PROXY_PREFIX, handle, { parse: 'none', detail })
    .all(`${PROXY_PREFIX}/*`, handle, { parse: 'none', detail })
    .get(`${PROXY_PREFIX}/*`, handle, { parse: 'none', detail })
    .head(`${PROXY_PREFIX}/*`, handle, { parse: 'none', detail })
    .use(authGuard(ctx))
    .get(
      '/api/remote/models',
      async ({ query, user }) => ({
        models: await listModels(ctx, {
          provider: query.provider,
          refresh: query.refresh === true && user.role === 'system_admin',
        }),
      }),
      {
        auth: true,
        query: t.Object({ provider: t.Optional(oneOf(LLM_PROVIDERS)), refresh: t.Optional(t.Boolean()) }),
        response: t.Object({ models: t.Array(KeyModels) }),
        detail: {
          summary: "Each provider key's model list (cached; refresh=true refetches, system admins only)",
        },
      },
    )
    .get(
      '/api/remote/api-keys/health',
      async () => ({
        keys: (await listApiKeys(ctx)).map((k) => ({
          id: k.id,
          provider: k.provider,
          key_name: k.key_name,
          status: k.status,
          ...keyHealthView(ctx, k.id),
        })),
      }),
      {
        auth: 'system_admin',
        response: t.Object({ keys: t.Array(KeyHealth) }),
        detail: { summary: 'How each LLM API key has been doing on this instance (failures, cooldown)' },
      },
    )
    .post('/api/remote/api-keys/:id/test', ({ params, actor }) => testApiKey(ctx, actor, params.id), {
      auth: 'system_admin',
      params: ApiKeyIdParams,
      response: KeyTestResult,
      detail: {
        summary:
          "Test a stored key: a models call to its provider; the models it serves or the provider's refusal",
      },
    })
}
