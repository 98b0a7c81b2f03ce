// The LLM proxy's request path: verify the proxy token, check quota, swap in the real key,
// forward (failing over across a provider's keys before any byte reached the client), and stream
// the answer back as it arrives while counting its tokens. Web-standard only (runs on Deno too).
import { LLM_PROXY_PATH } from '../../protocol/index.ts'
import { providerKeys } from '../api-keys/service.ts'
import type { AppContext } from '../context/index.ts'
import type { LlmProvider, SessionAlert } from '../db/schema/index.ts'
import { BodyTooLarge, readBodyLimited } from '../http/read-body.ts'
import { countProxyRequest } from '../metrics/instruments.ts'
import { chargeUsage, reserveQuota, settleQuota } from '../quota/service.ts'
import { quotaWarningsAfter } from '../quota/warnings.ts'
import { BUILT_IN_ENDPOINTS, type EndpointRule, endpointAllowed, parseExtraEndpoints } from './endpoints.ts'
import { forwardWithFailover } from './forward.ts'
import { clientCredential, defaultEndpoint, inferProvider, providerError } from './providers.ts'
import { CLIENT_CLOSED, relayResponse } from './relay.ts'
import { type ProxyTokenClaims, verifyProxyToken } from './tokens.ts'
import { createMeter } from './usage.ts'

export const PROXY_PREFIX = LLM_PROXY_PATH

/** A rough token size for estimates (English text and JSON run 3-4 bytes per token). */
const BYTES_PER_TOKEN = 4

/**
 * What a call may use, reserved against quota before it is forwarded: its input by size, its
 * output by the limit it asks for (max_tokens and the other providers' names for it) or
 * LLM_PROXY_DEFAULT_RESERVE_TOKENS.
 */
function reservationEstimate(ctx: AppContext, prepared: Prepared, raw: Uint8Array | null) {
  const json = prepared.json
  const generation = json?.generationConfig as Record<string, unknown> | undefined
  const asked = [
    json?.max_tokens,
    json?.max_completion_tokens,
    json?.max_output_tokens,
    generation?.maxOutputTokens,
  ]
  const limit = asked.find((v): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0)
  return {
    input: Math.ceil((raw?.byteLength ?? 0) / BYTES_PER_TOKEN),
    output: Math.ceil(limit ?? ctx.config.llmProxy.defaultReserveTokens),
  }
}

interface Prepared {
  body: Uint8Array<ArrayBuffer> | null
  model: string | null
  /** The proxy added stream_options.include_usage, so the usage chunk must not reach the client. */
  stripUsageChunk: boolean
  json: Record<string, unknown> | null
}

function prepareBody(
  provider: LlmProvider,
  request: Request,
  raw: Uint8Array<ArrayBuffer> | null,
  rest: string,
): Prepared {
  const prepared: Prepared = { body: raw, model: null, stripUsageChunk: false, json: null }
  const google = /\/models\/([^/:]+):(?:stream)?generateContent$/i.exec(rest)
  if (google) prepared.model = google[1]!
  const type = request.headers.get('content-type') ?? ''
  if (!raw || !type.includes('json')) return prepared
  let json: Record<string, unknown>
  try {
    json = JSON.parse(DECODER.decode(raw))
  } catch {
    return prepared
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) return prepared
  prepared.json = json
  if (typeof json.model === 'string') prepared.model = json.model
  const options = json.stream_options as Record<string, unknown> | undefined
  if (provider === 'openai' && json.stream === true && options?.include_usage !== true) {
    json.stream_options = { ...options, include_usage: true }
    prepared.body =
      options === undefined ? withLeadingField(raw, INCLUDE_USAGE) : ENCODER.encode(JSON.stringify(json))
    prepared.stripUsageChunk = true
  }
  return prepared
}

const ENCODER = new TextEncoder()
const DECODER = new TextDecoder()
const INCLUDE_USAGE = ENCODER.encode('"stream_options":{"include_usage":true},')
const OPEN_BRACE = 0x7b

/**
 * The body with `field` (`"name":value,`) put right after its opening brace: the rest goes on
 * byte for byte, not parsed and serialized again (a CLI's request is often hundreds of KB).
 * Only for a field the object lacks, so no key appears twice.
 */
function withLeadingField(raw: Uint8Array<ArrayBuffer>, field: Uint8Array): Uint8Array<ArrayBuffer> {
  const brace = raw.indexOf(OPEN_BRACE)
  const out = new Uint8Array(raw.byteLength + field.byteLength)
  out.set(raw.subarray(0, brace + 1))
  out.set(field, brace + 1)
  out.set(raw.subarray(brace + 1), brace + 1 + field.byteLength)
  return out
}

/** The endpoints this instance forwards, and its answers so far (ctx.state.endpointCheck). */
export interface EndpointCheck {
  rules: EndpointRule[]
  /** Answers per "provider method path": a CLI calls the same few paths over and over. */
  answers: Map<string, boolean>
}

const MAX_CACHED_ENDPOINT_ANSWERS = 1000

export function createEndpointCheck(ctx: AppContext): EndpointCheck {
  const rules = [...BUILT_IN_ENDPOINTS, ...parseExtraEndpoints(ctx.config.llmProxy.extraEndpoints)]
  return { rules, answers: new Map() }
}

function isAllowedEndpoint(ctx: AppContext, provider: LlmProvider, method: string, rest: string): boolean {
  const check = ctx.state.endpointCheck
  const key = `${provider} ${method} ${rest}`
  let allowed = check.answers.get(key)
  if (allowed === undefined) {
    allowed = endpointAllowed(check.rules, provider, method, rest)
    if (check.answers.size >= MAX_CACHED_ENDPOINT_ANSWERS) check.answers.clear()
    check.answers.set(key, allowed)
  }
  return allowed
}

interface Refusal {
  status: number
  message: string
  type: string
  retry?: boolean
  /** When the limit that refused resets (quota refusals). */
  resetsAt?: string
}

/**
 * What the proxy tells others about a call (handed in by the app, so the proxy does not depend
 * on the sessions capability): a refusal or quota warning for the session the call belongs to.
 */
export interface ProxyHooks {
  alertSession?: (sessionId: string, alert: Omit<SessionAlert, 'at'>) => Promise<void>
}

/** Tells the session what happened to its call, without holding up the answer to the CLI. */
function alertSession(
  ctx: AppContext,
  hooks: ProxyHooks,
  claims: ProxyTokenClaims | null,
  alert: Omit<SessionAlert, 'at'>,
): void {
  const sessionId = claims?.sessionId
  if (!sessionId || !hooks.alertSession) return
  void hooks
    .alertSession(sessionId, alert)
    .catch((error) => ctx.log.warn('session alert failed', { session_id: sessionId, error }))
}

/** A limited user's call that passed 80% of a limit: its session hears it (once per limit and period). */
function warnNearQuota(ctx: AppContext, hooks: ProxyHooks, claims: ProxyTokenClaims, tokens: number): void {
  void quotaWarningsAfter(ctx, {
    userId: claims.userId,
    tenantId: claims.tenantId,
    sessionId: claims.sessionId,
    tokens,
  })
    .then((warnings) => {
      for (const w of warnings)
        alertSession(ctx, hooks, claims, {
          code: 'quota_warning',
          level: 'warning',
          message: w.message,
          resets_at: w.resetsAt,
        })
    })
    .catch((error) => ctx.log.warn('quota warning check failed', { session_id: claims.sessionId, error }))
}

/**
 * Every answer the proxy gives instead of forwarding (bad token, closed endpoint, body too
 * large, quota, no key, upstream unreachable) goes through here: in the provider's error shape,
 * logged with the session it concerns (null when the token did not verify).
 */
export function refuse(
  ctx: AppContext,
  hooks: ProxyHooks,
  claims: ProxyTokenClaims | null,
  provider: LlmProvider,
  refusal: Refusal,
): Response {
  ctx.log.info('llm proxy refused a call', {
    session_id: claims?.sessionId ?? null,
    provider,
    status: refusal.status,
    type: refusal.type,
  })
  // The session shows it too (quota reached, no key, upstream down...), so the person knows why
  // it stalls while the CLI retries.
  alertSession(ctx, hooks, claims, {
    code: refusal.type,
    level: 'error',
    message: refusal.message,
    ...(refusal.resetsAt ? { resets_at: refusal.resetsAt } : {}),
  })
  return providerError(provider, refusal.status, refusal.message, refusal.type, { retry: refusal.retry })
}

export async function handleProxy(
  ctx: AppContext,
  request: Request,
  hooks: ProxyHooks = {},
): Promise<Response> {
  const started = performance.now()
  const url = new URL(request.url)
  let rest = url.pathname.slice(PROXY_PREFIX.length)
  const credential = clientCredential(request, url)
  const claims = credential ? await verifyProxyToken(ctx, credential) : null
  if (!claims)
    return refuse(ctx, hooks, null, inferProvider(request, rest, url), {
      status: 401,
      message: 'The proxy token is missing, invalid, expired or revoked',
      type: 'authentication_error',
    })
  const provider = claims.provider ?? inferProvider(request, rest, url)
  const bare = rest === '' || rest === '/'
  if (!bare && !isAllowedEndpoint(ctx, provider, request.method, rest))
    return refuse(ctx, hooks, claims, provider, {
      status: 404,
      message: `${request.method} ${rest} is not an inference endpoint this proxy forwards`,
      type: 'not_found_error',
      retry: false,
    })

  let raw: Uint8Array<ArrayBuffer> | null
  try {
    raw = await readBodyLimited(request, ctx.config.llmProxyMaxBodyBytes)
  } catch (error) {
    if (!(error instanceof BodyTooLarge)) throw error
    const mb = Math.round(ctx.config.llmProxyMaxBodyBytes / 1024 / 1024)
    return refuse(ctx, hooks, claims, provider, {
      status: 413,
      message: `The request body is larger than the ${mb} MB limit`,
      type: 'request_too_large',
      retry: false,
    })
  }

  const prepared = prepareBody(provider, request, raw, rest)
  if (bare) {
    const endpoint = defaultEndpoint(provider, prepared.json)
    if (!endpoint)
      return refuse(ctx, hooks, claims, provider, {
        status: 400,
        message: 'Say which model to use: a "model" field or a provider path',
        type: 'invalid_request_error',
      })
    rest = endpoint
  }
  const inference = request.method === 'POST'
  const estimate = inference ? reservationEstimate(ctx, prepared, raw) : { input: 0, output: 0 }
  const admitted = await reserveQuota(ctx, claims.userId, claims.tenantId, estimate.input + estimate.output)
  if ('refusal' in admitted)
    return refuse(ctx, hooks, claims, provider, {
      status: 429,
      message: admitted.refusal,
      type: 'quota_exceeded',
      retry: false,
      resetsAt: admitted.resetsAt,
    })
  const hold = admitted.hold

  const keys = await providerKeys(ctx, provider)
  if (!keys.length) {
    if (hold) settleQuota(ctx, hold, 0)
    return refuse(ctx, hooks, claims, provider, {
      status: 400,
      message: `No API key configured for provider '${provider}'`,
      type: 'config_error',
      retry: false,
    })
  }

  const search = new URLSearchParams(url.search)
  if (provider === 'google' && rest.endsWith(':streamGenerateContent') && !search.has('alt'))
    search.set('alt', 'sse')

  const abort = new AbortController()
  const onClientGone = () => abort.abort()
  request.signal.addEventListener('abort', onClientGone, { once: true })
  const record = (
    status: number,
    keyId: number | null,
    input = 0,
    output = 0,
    model = prepared.model,
    responseBytes = 0,
  ) => {
    // An answer without usage fields is still counted: by the request's size and the answer's.
    const estimated = inference && status < 400 && input === 0 && output === 0
    if (estimated) {
      input = estimate.input
      output = Math.ceil(responseBytes / BYTES_PER_TOKEN)
    }
    countProxyRequest(ctx, provider, status, input, output)
    if (hold) settleQuota(ctx, hold, input + output)
    chargeUsage(
      ctx,
      usageRow(ctx, claims, provider, { status, keyId, input, output, model, started, estimated }),
    )
    if (hold && status < 400) warnNearQuota(ctx, hooks, claims, input + output)
  }

  const upstreamStart = performance.now()
  const forwarded = await forwardWithFailover(ctx, {
    provider,
    keys,
    method: request.method,
    headers: request.headers,
    body: prepared.body,
    rest,
    search,
    abort,
  })
  if ('failure' in forwarded) {
    request.signal.removeEventListener('abort', onClientGone)
    if (forwarded.failure === 'aborted') {
      record(CLIENT_CLOSED, null)
      return new Response(null, { status: CLIENT_CLOSED })
    }
    const timeout = forwarded.failure === 'timeout'
    record(timeout ? 504 : 502, null)
    return refuse(ctx, hooks, claims, provider, {
      status: timeout ? 504 : 502,
      message: timeout
        ? `The ${provider} API did not answer in time (every key tried)`
        : `Could not reach the ${provider} API`,
      type: timeout ? 'upstream_timeout' : 'upstream_unreachable',
    })
  }
  const { upstream, key } = forwarded
  const headersAt = performance.now()
  if (upstream.status >= 400 && upstream.status !== 404)
    alertSession(ctx, hooks, claims, {
      code: 'upstream_error',
      level: 'error',
      message: `The ${provider} API answered ${upstream.status} ${upstream.statusText}`.trim(),
    })

  const meter = createMeter(provider, {
    sse: (upstream.headers.get('content-type') ?? '').includes('text/event-stream'),
    stripUsageChunk: prepared.stripUsageChunk,
    model: prepared.model,
  })
  const idleMs = ctx.config.llmProxy.idleTimeoutMs
  const response = await relayResponse(upstream, meter, abort, key.apiKey, idleMs, (status) => {
    request.signal.removeEventListener('abort', onClientGone)
    record(status, key.id, meter.count.inputTokens, meter.count.outputTokens, meter.count.model, meter.bytes)
  })
  const added = upstreamStart - started + (performance.now() - headersAt)
  ctx.state.metrics.proxyAddedLatency.observe(added / 1000, { provider })
  return response
}

function usageRow(
  ctx: AppContext,
  claims: ProxyTokenClaims,
  provider: LlmProvider,
  r: {
    status: number
    keyId: number | null
    input: number
    output: number
    model: string | null
    started: number
    estimated: boolean
  },
) {
  return {
    ts: ctx.now(),
    userId: claims.userId,
    tenantId: claims.tenantId,
    sessionId: claims.sessionId,
    machineId: claims.machineId,
    provider,
    model: r.model,
    apiKeyId: r.keyId,
    inputTokens: r.input,
    outputTokens: r.output,
    requests: 1,
    latencyMs: Math.round(performance.now() - r.started),
    status: r.status,
    estimated: r.estimated,
  }
}
