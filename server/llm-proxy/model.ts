// Response schemas of the proxy's own JSON routes (model lists, key health), and the proxy's
// entry in the OpenAPI document: a provider's answer is passed through byte for byte, so it is
// described there and never checked.
import { type Static, t } from 'elysia'
import { PublicApiKey } from '../api-keys/model.ts'
import { documented, IsoTime, NullableIsoTime, oneOf } from '../http/schema.ts'

/** One key's model list (models.ts fetchKeyModels). */
export const KeyModels = t.Object({
  provider: PublicApiKey.properties.provider,
  key_id: PublicApiKey.properties.id,
  key_name: PublicApiKey.properties.key_name,
  models: t.Array(t.Object({ id: t.String(), name: t.Nullable(t.String()) })),
  fetched_at: IsoTime,
  /** Why the list could not be fetched (the models stay empty), else null. */
  error: t.Nullable(t.String()),
  /** The HTTP status of the provider's models call; null when it was not reached. */
  status: t.Nullable(t.Integer()),
})
export type KeyModels = Static<typeof KeyModels>

export const KEY_HEALTH_STATES = ['healthy', 'cooling_down'] as const

/** How a key has been doing on this instance (key-health.ts keyHealthView), with the key's names. */
export const KeyHealth = t.Object({
  id: PublicApiKey.properties.id,
  provider: PublicApiKey.properties.provider,
  key_name: PublicApiKey.properties.key_name,
  status: PublicApiKey.properties.status,
  state: oneOf(KEY_HEALTH_STATES),
  cooling_until: NullableIsoTime,
  successes: t.Integer({ minimum: 0 }),
  failures: t.Integer({ minimum: 0 }),
  last_status: t.Nullable(t.Integer()),
  last_error: t.Nullable(t.String()),
  last_failure_at: NullableIsoTime,
  last_success_at: NullableIsoTime,
})

/** The proxy routes' OpenAPI entry: the provider's answer as it came, JSON or a stream. */
export const PROXY_DETAIL = {
  summary: 'Forward an LLM request with the real API key (proxy token auth)',
  responses: documented(
    200,
    "The provider's answer, passed through byte for byte: its status, headers and body, a stream as it comes",
    {
      'application/json': t.Object({}, { additionalProperties: true, description: "The provider's JSON" }),
      'text/event-stream': t.String({ description: "The provider's stream, chunk by chunk" }),
    },
  ),
}
