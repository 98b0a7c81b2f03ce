// Sends a call upstream, failing over across the provider's keys before any byte reached the
// client: no answer headers within the first-byte timeout, a connection error, 429, 5xx, and
// 4xx answers about the key itself (invalid key, that account's quota, a model this key may
// not use) move to the next key and cool the failing one down; a 4xx about the request itself
// goes back as it is. The last key's answer is returned whatever it is.
import type { ProviderKey } from '../api-keys/service.ts'
import type { AppContext } from '../context/index.ts'
import type { LlmProvider } from '../db/schema/index.ts'
import { keyFailed, keySucceeded, keysInTryOrder } from './key-health.ts'
import { DEFAULT_BASE_URLS, joinTarget, upstreamHeaders } from './providers.ts'

export type Forwarded =
  | { upstream: Response; key: ProviderKey }
  | { failure: 'aborted' | 'unreachable' | 'timeout' }

/** 4xx statuses that are always about the key (its credentials, billing or permissions). */
const KEY_STATUSES = new Set([401, 402, 403])
/** 4xx statuses whose body says whether the key or the request is at fault. */
const AMBIGUOUS_STATUSES = new Set([400, 404, 422])
/** Error texts providers use when the key, its account or its model access is the problem. */
const KEY_ERROR =
  /api[ _-]?key|invalid[ _-]?(x-api-key|authentication|credential)|credential|insufficient[ _-]?quota|billing|credit balance|permission[ _-]?denied|unauthori[sz]ed|(model|deployment)\b[^"]{0,80}\b(not (found|available|exist|supported)|does not exist|no access|not have access)|model_not_found|API_KEY_INVALID/i
const MAX_ERROR_BODY_CHARS = 64 * 1024

export interface ForwardInput {
  provider: LlmProvider
  keys: ProviderKey[]
  method: string
  headers: Headers
  body: Uint8Array<ArrayBuffer> | null
  rest: string
  search: URLSearchParams
  /** Aborted when the client goes away; also ends the chosen upstream request. */
  abort: AbortController
}

export async function forwardWithFailover(ctx: AppContext, input: ForwardInput): Promise<Forwarded> {
  const { provider, abort } = input
  const order = keysInTryOrder(ctx, input.keys)
  let timedOut = false
  for (let i = 0; i < order.length; i++) {
    const key = order[i]!
    const last = i === order.length - 1
    const target = joinTarget(provider, key.baseUrl ?? DEFAULT_BASE_URLS[provider], input.rest, input.search)
    const attempt = new AbortController()
    const follow = () => attempt.abort()
    // The client's abort (or the relay's) must reach the chosen request, so the attempt follows it.
    abort.signal.addEventListener('abort', follow, { once: true })
    let slow = false
    const timer = setTimeout(() => {
      slow = true
      attempt.abort()
    }, ctx.config.llmProxy.firstByteTimeoutMs)
    const drop = () => abort.signal.removeEventListener('abort', follow)
    let upstream: Response
    try {
      upstream = await fetch(target, {
        method: input.method,
        headers: upstreamHeaders(provider, input.headers, key.apiKey),
        body: input.body,
        signal: attempt.signal,
        redirect: 'manual',
      })
    } catch (error) {
      clearTimeout(timer)
      drop()
      if (abort.signal.aborted) return { failure: 'aborted' }
      timedOut ||= slow
      const why = slow ? 'no answer within the first-byte timeout' : 'connection failed'
      keyFailed(ctx, key.id, null, why)
      ctx.log.warn('llm upstream failed; trying the next key', {
        provider,
        key_id: key.id,
        reason: why,
        error: slow ? undefined : error,
      })
      continue
    }
    clearTimeout(timer)
    const status = upstream.status
    let keyProblem = status === 429 || status >= 500 || KEY_STATUSES.has(status)
    if (!keyProblem && AMBIGUOUS_STATUSES.has(status)) {
      // Small error bodies: read, judge, and hand back a fresh body with the same text.
      const text = await upstream.text().catch(() => '')
      keyProblem = KEY_ERROR.test(text.slice(0, MAX_ERROR_BODY_CHARS))
      upstream = new Response(text, { status, statusText: upstream.statusText, headers: upstream.headers })
    }
    if (!keyProblem) {
      keySucceeded(ctx, key.id, status)
      return { upstream, key }
    }
    keyFailed(ctx, key.id, status, `HTTP ${status}`)
    if (last) return { upstream, key }
    drop()
    ctx.log.warn('llm upstream refused; trying the next key', { provider, key_id: key.id, status })
    await upstream.body?.cancel().catch(() => {})
  }
  return { failure: timedOut ? 'timeout' : 'unreachable' }
}
