// Testing a stored key (POST /api/remote/api-keys/{id}/test): one models call the provider's
// way, through the same base URL, headers and address rule the proxy uses, answered in words
// (the models it serves, or the provider's refusal). The key itself never appears in the answer.

import { storedKey } from '../api-keys/service.ts'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { fetchKeyModels } from './models.ts'

export async function testApiKey(ctx: AppContext, actor: Actor, id: number) {
  const { provider, key, refusal } = await storedKey(ctx, id)
  const started = performance.now()
  const result = refusal
    ? { status: null, models: [], error: `Not tried: ${refusal}` }
    : await fetchKeyModels(ctx, provider, key)
  const ok = result.error === null
  const models = result.models.map((m) => m.id)
  const answer = {
    ok,
    provider,
    status: result.status,
    message: ok
      ? `The ${provider} API accepted the key and lists ${models.length} model${models.length === 1 ? '' : 's'}`
      : result.error!,
    models,
    latency_ms: Math.round(performance.now() - started),
    tested_at: ctx.now().toISOString(),
  }
  await ctx.audit(
    'api_key.test',
    actor,
    { type: 'api_key', id, name: key.keyName },
    { provider, status: result.status, message: answer.message },
    { outcome: ok ? 'success' : 'failure' },
  )
  return answer
}
