// /api/remote/api-keys: the LLM provider key store, system admins only. Values are write-only:
// every answer carries the masked form, never the key.
import { Elysia, t } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { OkAnswer } from '../http/schema.ts'
import { ApiKeyAnswer, ApiKeyIdParams, CreateApiKeyBody, PublicApiKey, UpdateApiKeyBody } from './model.ts'
import { createApiKey, deleteApiKey, listApiKeys, updateApiKey } from './service.ts'

export function apiKeysRoutes(ctx: AppContext) {
  return new Elysia({ name: 'api-keys', seed: ctx.id, prefix: '/api/remote/api-keys' })
    .use(authGuard(ctx))
    .get('/', async () => ({ api_keys: await listApiKeys(ctx) }), {
      auth: 'system_admin',
      response: t.Object({ api_keys: t.Array(PublicApiKey) }),
      detail: { summary: 'List stored LLM API keys (masked)' },
    })
    .post(
      '/',
      async ({ body, actor, set }) => {
        const api_key = await createApiKey(ctx, actor, {
          provider: body.provider,
          keyName: body.key_name,
          apiKey: body.api_key,
          baseUrl: body.base_url,
        })
        set.status = 201
        return { api_key }
      },
      {
        auth: 'system_admin',
        body: CreateApiKeyBody,
        response: { 201: ApiKeyAnswer },
        detail: { summary: 'Store an LLM API key' },
      },
    )
    .patch(
      '/:id',
      async ({ params, body, actor }) => ({
        api_key: await updateApiKey(ctx, actor, params.id, {
          status: body.status,
          baseUrl: body.base_url,
          keyName: body.key_name,
        }),
      }),
      {
        auth: 'system_admin',
        params: ApiKeyIdParams,
        body: UpdateApiKeyBody,
        response: ApiKeyAnswer,
        detail: { summary: 'Rename, enable, disable or re-point an LLM API key' },
      },
    )
    .delete(
      '/:id',
      async ({ params, actor }) => {
        await deleteApiKey(ctx, actor, params.id)
        return { ok: true as const }
      },
      {
        auth: 'system_admin',
        params: ApiKeyIdParams,
        response: OkAnswer,
        detail: { summary: 'Delete an LLM API key' },
      },
    )
}
