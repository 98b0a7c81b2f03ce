// Request and response schemas of /api/remote/api-keys (seed field names).
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { API_KEY_STATUSES, apiKeyStore, LLM_PROVIDERS } from '../db/schema/index.ts'
import { NAME_PATTERN } from '../http/patterns.ts'
import { IsoTime, NullableIsoTime, oneOf } from '../http/schema.ts'

export const KeyName = t.String({ minLength: 1, maxLength: 100, pattern: NAME_PATTERN })

export const CreateApiKeyBody = t.Object({
  provider: oneOf(LLM_PROVIDERS),
  key_name: KeyName,
  api_key: t.String({ minLength: 1, maxLength: 4096 }),
  base_url: t.Optional(t.Union([t.String({ maxLength: 2048 }), t.Null()])),
})

export const UpdateApiKeyBody = t.Object({
  key_name: t.Optional(KeyName),
  status: t.Optional(oneOf(API_KEY_STATUSES)),
  base_url: t.Optional(t.Union([t.String({ maxLength: 2048 }), t.Null()])),
})

export const ApiKeyIdParams = t.Object({ id: t.Integer({ minimum: 1 }) })

const key = createSelectSchema(apiKeyStore).properties

/** A stored key as the API shows it (service.ts publicApiKey): the row's fields, never the key. */
export const PublicApiKey = t.Object({
  id: key.id,
  provider: key.provider,
  key_name: key.keyName,
  masked_key: key.hint,
  base_url: key.baseUrl,
  status: key.status,
  created_at: IsoTime,
  last_used_at: NullableIsoTime,
})

export const ApiKeyAnswer = t.Object({ api_key: PublicApiKey })

/** What a key test found: `message` in words (success or the provider's refusal), never the key. */
export const KeyTestResult = t.Object({
  ok: t.Boolean(),
  provider: t.String(),
  status: t.Union([t.Integer(), t.Null()]),
  message: t.String(),
  models: t.Array(t.String()),
  latency_ms: t.Integer(),
  tested_at: t.String(),
})
