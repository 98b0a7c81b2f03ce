// The proxy is closed: only the endpoints coding CLIs use for inference reach a provider with the
// real key (per provider, method and path); anything else is refused before the upstream is
// touched. Operators may open more with LLM_PROXY_EXTRA_ENDPOINTS ("provider METHOD /path", `*`
// matching one path segment, comma-separated).
import type { LlmProvider } from '../db/schema/index.ts'

/** One allowed call: method and path segments after the version segment (`*`: any one segment). */
export interface EndpointRule {
  provider: LlmProvider
  method: string
  segments: string[]
}

/** A version path segment such as v1, v1beta, v4: base URLs and client paths both may carry one. */
export const VERSION_SEGMENT = /^v\d+[a-z]*\d*$/

const BUILT_IN: Record<LlmProvider, string[]> = {
  openai: [
    'POST /chat/completions',
    'POST /responses',
    'POST /completions',
    'POST /embeddings',
    'GET /models',
    'GET /models/*',
  ],
  anthropic: ['POST /messages', 'POST /messages/count_tokens', 'GET /models', 'GET /models/*'],
  google: [
    'POST /models/*:generateContent',
    'POST /models/*:streamGenerateContent',
    'POST /models/*:countTokens',
    'GET /models',
    'GET /models/*',
  ],
}

function parseRule(provider: LlmProvider, text: string): EndpointRule {
  const [method, path] = text.trim().split(/\s+/)
  if (!method || !path?.startsWith('/')) throw new Error(`not "METHOD /path": ${text}`)
  const segments = path.split('/').filter(Boolean)
  if (segments[0] && VERSION_SEGMENT.test(segments[0])) segments.shift()
  return { provider, method: method.toUpperCase(), segments }
}

export const BUILT_IN_ENDPOINTS: EndpointRule[] = Object.entries(BUILT_IN).flatMap(([provider, rules]) =>
  rules.map((r) => parseRule(provider as LlmProvider, r)),
)

/** Parses LLM_PROXY_EXTRA_ENDPOINTS: "openai POST /audio/transcriptions, google POST /models/*:embedContent". */
export function parseExtraEndpoints(value: string | undefined): EndpointRule[] {
  if (!value?.trim()) return []
  return value.split(',').map((entry) => {
    const [provider, ...rest] = entry.trim().split(/\s+/)
    if (provider !== 'openai' && provider !== 'anthropic' && provider !== 'google')
      throw new Error(`unknown provider in "${entry.trim()}" (openai, anthropic or google)`)
    return parseRule(provider, rest.join(' '))
  })
}

/** One path segment against a rule's: `*` is any segment; `*:verb` any model with that verb. */
function segmentMatches(rule: string, actual: string): boolean {
  if (rule === '*') return actual.length > 0 && !actual.includes(':')
  if (rule.startsWith('*:')) {
    const colon = actual.lastIndexOf(':')
    return colon > 0 && actual.slice(colon) === rule.slice(1)
  }
  return rule === actual
}

/**
 * Whether a call may go upstream: the path after the proxy prefix (a leading version segment
 * ignored), HEAD allowed wherever GET is.
 */
export function endpointAllowed(
  rules: readonly EndpointRule[],
  provider: LlmProvider,
  method: string,
  rest: string,
): boolean {
  const segments = rest.split('/').filter(Boolean)
  if (segments[0] && VERSION_SEGMENT.test(segments[0])) segments.shift()
  if (segments.some((s) => s === '..' || s === '.' || s.includes('%2f') || s.includes('%2F'))) return false
  const wanted = method === 'HEAD' ? 'GET' : method
  return rules.some(
    (r) =>
      r.provider === provider &&
      r.method === wanted &&
      r.segments.length === segments.length &&
      r.segments.every((s, i) => segmentMatches(s, segments[i]!)),
  )
}
