// How each provider's wire format differs where the proxy cares: where a client puts its key,
// how the real key is injected, default endpoints and base URLs, and the provider's own error
// shape (so a CLI shows our errors the way it shows the provider's).
import type { LlmProvider } from '../db/schema/index.ts'
import { VERSION_SEGMENT } from './endpoints.ts'

export const DEFAULT_BASE_URLS: Record<LlmProvider, string> = {
  openai: 'https://api.openai.com/v1',
  anthropic: 'https://api.anthropic.com',
  google: 'https://generativelanguage.googleapis.com',
}
const DEFAULT_ANTHROPIC_VERSION = '2023-06-01'

/** Client headers never forwarded: credentials, hop-by-hop, and ones the runtime sets itself. */
const DROPPED_REQUEST_HEADERS = new Set([
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'x-goog-api-key',
  'api-key',
  'cookie',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'accept-encoding',
  'forwarded',
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-real-ip',
  'origin',
  'referer',
])

const BEARER = 'bearer '

/** The credential a client sent, wherever its SDK puts it. */
export function clientCredential(request: Request, url: URL): string | null {
  const auth = request.headers.get('authorization')
  if (auth && auth.length > BEARER.length && auth.slice(0, BEARER.length).toLowerCase() === BEARER)
    return auth.slice(BEARER.length).trim()
  return (
    request.headers.get('x-api-key') ?? request.headers.get('x-goog-api-key') ?? url.searchParams.get('key')
  )
}

/** The provider a request speaks, from its path and header style (when the token does not say). */
export function inferProvider(request: Request, rest: string, url: URL): LlmProvider {
  if (
    /:(streamGenerateContent|generateContent|countTokens)$/i.test(rest) ||
    request.headers.has('x-goog-api-key') ||
    url.searchParams.has('key')
  )
    return 'google'
  if (
    request.headers.has('x-api-key') ||
    request.headers.has('anthropic-version') ||
    /\/messages(\/count_tokens)?$/.test(rest)
  )
    return 'anthropic'
  return 'openai'
}

/** The provider's main endpoint, for a bare POST /api/remote/llm-proxy. */
export function defaultEndpoint(provider: LlmProvider, body: Record<string, unknown> | null): string | null {
  if (provider === 'openai') return '/chat/completions'
  if (provider === 'anthropic') return '/v1/messages'
  const model = typeof body?.model === 'string' ? body.model : null
  if (!model || !/^[\w.-]+$/.test(model)) return null
  return `/v1beta/models/${model}:${body?.stream === true ? 'streamGenerateContent' : 'generateContent'}`
}

/**
 * base_url + path without doubling the version: a stored `https://api.openai.com/v1` and a
 * client path `/v1/chat/completions` give `.../v1/chat/completions`, and so do a bare base and a
 * bare path for OpenAI (whose clients assume the /v1 root).
 */
export function joinTarget(
  provider: LlmProvider,
  baseUrl: string,
  rest: string,
  search: URLSearchParams,
): string {
  const key = `${provider} ${baseUrl} ${rest}`
  let target = joinedPaths.get(key)
  if (target === undefined) {
    target = joinPath(provider, baseUrl, rest)
    if (joinedPaths.size >= MAX_JOINED_PATHS) joinedPaths.clear()
    joinedPaths.set(key, target)
  }
  if (!search.size) return target
  const params = new URLSearchParams(search)
  params.delete('key')
  const query = params.toString()
  return query ? `${target}?${query}` : target
}

/** base + path per provider, base URL and client path: the same few, on every call. */
const joinedPaths = new Map<string, string>()
const MAX_JOINED_PATHS = 1000

function joinPath(provider: LlmProvider, baseUrl: string, rest: string): string {
  const base = baseUrl.replace(/\/+$/, '')
  const baseLast = base.slice(base.lastIndexOf('/') + 1)
  const restFirst = rest.split('/')[1] ?? ''
  let path = rest
  const baseVersioned = VERSION_SEGMENT.test(baseLast) && new URL(base).pathname !== '/'
  if (baseVersioned && VERSION_SEGMENT.test(restFirst)) path = rest.slice(restFirst.length + 1)
  else if (!baseVersioned && !VERSION_SEGMENT.test(restFirst) && provider === 'openai') path = `/v1${rest}`
  return `${base}${path}`
}

/** The client's headers minus every credential, plus the real key the provider's way. */
export function upstreamHeaders(provider: LlmProvider, incoming: Headers, apiKey: string): Headers {
  const headers = new Headers()
  for (const [name, value] of incoming) if (!DROPPED_REQUEST_HEADERS.has(name)) headers.append(name, value)
  if (provider === 'openai') headers.set('authorization', `Bearer ${apiKey}`)
  else if (provider === 'anthropic') {
    headers.set('x-api-key', apiKey)
    if (!headers.has('anthropic-version')) headers.set('anthropic-version', DEFAULT_ANTHROPIC_VERSION)
  } else headers.set('x-goog-api-key', apiKey)
  return headers
}

const GOOGLE_STATUS: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  413: 'INVALID_ARGUMENT',
  429: 'RESOURCE_EXHAUSTED',
  502: 'UNAVAILABLE',
  503: 'UNAVAILABLE',
}

/** An error answer in the provider's own shape; `retry: false` tells the SDKs not to retry. */
export function providerError(
  provider: LlmProvider,
  status: number,
  message: string,
  type: string,
  options: { retry?: boolean; headers?: Record<string, string> } = {},
): Response {
  const body =
    provider === 'anthropic'
      ? { type: 'error', error: { type, message } }
      : provider === 'google'
        ? { error: { code: status, message, status: GOOGLE_STATUS[status] ?? 'INTERNAL' } }
        : { error: { message, type } }
  const headers: Record<string, string> = { 'content-type': 'application/json', ...options.headers }
  if (options.retry === false) headers['x-should-retry'] = 'false'
  return new Response(JSON.stringify(body), { status, headers })
}
