// Model lists for the UI's model picker: each enabled provider key's own list, fetched from its
// upstream (GET models, the provider's way) and kept per key for a while, so opening the picker
// costs no provider round trip. A key's failure is reported next to it, never hides the others.
import { type ProviderKey, providerKeys } from '../api-keys/service.ts'
import type { AppContext } from '../context/index.ts'
import { LLM_PROVIDERS, type LlmProvider } from '../db/schema/index.ts'
import type { KeyModels } from './model.ts'
import { DEFAULT_BASE_URLS, joinTarget, upstreamHeaders } from './providers.ts'
import { REDACTED } from './scrub.ts'

/** A fetched list is reused this long; a failure is retried sooner. */
const LIST_TTL_MS = 10 * 60_000
const FAILURE_TTL_MS = 30_000
const FETCH_TIMEOUT_MS = 10_000
const MODELS_PATH: Record<LlmProvider, string> = {
  openai: '/v1/models',
  anthropic: '/v1/models',
  google: '/v1beta/models',
}

interface Cached {
  until: number
  value: Promise<KeyModels>
}

/** Each key's model list on this instance, by "key id|base url" (ctx.state.modelLists). */
export type ModelListCache = Map<string, Cached>

export const createModelListCache = (): ModelListCache => new Map()

type Json = Record<string, unknown>

/** The ids (and display names) in a provider's models answer. */
export function parseModels(provider: LlmProvider, body: unknown): KeyModels['models'] {
  const obj = (body ?? {}) as Json
  if (provider === 'google') {
    const list = Array.isArray(obj.models) ? (obj.models as Json[]) : []
    return list
      .filter((m) => typeof m.name === 'string')
      .map((m) => ({
        id: (m.name as string).replace(/^models\//, ''),
        name: typeof m.displayName === 'string' ? m.displayName : null,
      }))
  }
  const list = Array.isArray(obj.data) ? (obj.data as Json[]) : []
  return list
    .filter((m) => typeof m.id === 'string')
    .map((m) => ({ id: m.id as string, name: typeof m.display_name === 'string' ? m.display_name : null }))
}

/** The provider's own words in an error body ({error: {message}} in all three shapes), if any. */
function providerMessage(text: string): string | null {
  try {
    const body = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown }
    const message = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message)
    return typeof message === 'string' && message.trim() ? message.trim().slice(0, 500) : null
  } catch {
    return text.trim() && !text.trimStart().startsWith('<') ? text.trim().slice(0, 200) : null
  }
}

/** Why a fetch threw, in words (Bun names a refused connection `ConnectionRefused`). */
function fetchFailure(error: unknown): string {
  const e = error as { name?: string; code?: string; message?: string }
  if (e.name === 'TimeoutError') return `no answer within ${FETCH_TIMEOUT_MS / 1000} s`
  if (e.code === 'ConnectionRefused' || e.code === 'ECONNREFUSED') return 'connection refused'
  if (e.code === 'ENOTFOUND' || e.code === 'DNSException') return 'the host name does not resolve'
  return e.message ?? String(error)
}

/** One key's models call the provider's way: its list, or the provider's refusal in words. */
export async function fetchKeyModels(
  ctx: AppContext,
  provider: LlmProvider,
  key: ProviderKey,
): Promise<KeyModels> {
  const out: KeyModels = {
    status: null,
    provider,
    key_id: key.id,
    key_name: key.keyName,
    models: [],
    fetched_at: ctx.now().toISOString(),
    error: null,
  }
  const target = joinTarget(
    provider,
    key.baseUrl ?? DEFAULT_BASE_URLS[provider],
    MODELS_PATH[provider],
    new URLSearchParams(provider === 'google' ? { pageSize: '1000' } : {}),
  )
  try {
    const res = await fetch(target, {
      headers: upstreamHeaders(provider, new Headers({ accept: 'application/json' }), key.apiKey),
      redirect: 'manual',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    })
    const text = (await res.text()).replaceAll(key.apiKey, REDACTED)
    out.status = res.status
    if (!res.ok) {
      const said = providerMessage(text)
      const status = `${res.status}${res.statusText ? ` ${res.statusText}` : ''}`
      out.error = `The ${provider} API answered ${status}${said ? `: ${said}` : ''}`
    } else out.models = parseModels(provider, JSON.parse(text))
  } catch (error) {
    const origin = new URL(target).origin
    out.error = `Could not reach ${origin}: ${fetchFailure(error).replaceAll(key.apiKey, REDACTED)}`
  }
  return out
}

/** Every enabled key's model list (cached per key), optionally for one provider; `refresh` refetches. */
export async function listModels(
  ctx: AppContext,
  options: { provider?: LlmProvider; refresh?: boolean } = {},
): Promise<KeyModels[]> {
  const cache = ctx.state.modelLists
  const providers = options.provider ? [options.provider] : LLM_PROVIDERS
  const now = ctx.now().getTime()
  const lists: Array<Promise<KeyModels>> = []
  for (const provider of providers) {
    for (const key of await providerKeys(ctx, provider)) {
      const id = `${key.id}|${key.baseUrl}`
      const hit = cache.get(id)
      if (hit && hit.until > now && !options.refresh) {
        lists.push(hit.value)
        continue
      }
      const entry: Cached = { until: now + LIST_TTL_MS, value: fetchKeyModels(ctx, provider, key) }
      entry.value.then((v) => {
        if (v.error) entry.until = ctx.now().getTime() + FAILURE_TTL_MS
      })
      cache.set(id, entry)
      lists.push(entry.value)
    }
  }
  return Promise.all(lists)
}
