// Wire-format details: joining base_url and client paths without doubling the version, provider
// inference, header rewriting, and usage extraction from every provider's format.
import { describe, expect, test } from 'bun:test'
import { inferProvider, joinTarget, upstreamHeaders } from './providers.ts'
import { createMeter } from './usage.ts'

const none = new URLSearchParams()

describe('joinTarget', () => {
  test.each([
    [
      'openai',
      'https://api.openai.com/v1',
      '/v1/chat/completions',
      'https://api.openai.com/v1/chat/completions',
    ],
    [
      'openai',
      'https://api.openai.com/v1',
      '/chat/completions',
      'https://api.openai.com/v1/chat/completions',
    ],
    [
      'openai',
      'https://api.openai.com',
      '/v1/chat/completions',
      'https://api.openai.com/v1/chat/completions',
    ],
    ['openai', 'https://api.openai.com', '/chat/completions', 'https://api.openai.com/v1/chat/completions'],
    [
      'openai',
      'https://dashscope.aliyuncs.com/compatible-mode/v1',
      '/v1/chat/completions',
      'https://dashscope.aliyuncs.com/compatible-mode/v1/chat/completions',
    ],
    [
      'openai',
      'https://open.bigmodel.cn/api/paas/v4',
      '/v1/chat/completions',
      'https://open.bigmodel.cn/api/paas/v4/chat/completions',
    ],
    ['anthropic', 'https://api.anthropic.com', '/v1/messages', 'https://api.anthropic.com/v1/messages'],
    ['anthropic', 'https://api.anthropic.com/v1', '/v1/messages', 'https://api.anthropic.com/v1/messages'],
    [
      'google',
      'https://generativelanguage.googleapis.com',
      '/v1beta/models/g:generateContent',
      'https://generativelanguage.googleapis.com/v1beta/models/g:generateContent',
    ],
    [
      'google',
      'https://generativelanguage.googleapis.com/v1beta',
      '/v1beta/models/g:generateContent',
      'https://generativelanguage.googleapis.com/v1beta/models/g:generateContent',
    ],
  ] as const)('%s %s + %s', (provider, base, rest, expected) => {
    expect(joinTarget(provider, base, rest, none)).toBe(expected)
  })

  test('keeps query parameters except the key', () => {
    const search = new URLSearchParams('alt=sse&key=oa-pt.secret&beta=true')
    expect(joinTarget('google', 'https://g.example', '/v1beta/models/g:streamGenerateContent', search)).toBe(
      'https://g.example/v1beta/models/g:streamGenerateContent?alt=sse&beta=true',
    )
  })
})

describe('provider of a request', () => {
  const req = (headers: Record<string, string>) => new Request('http://x/api/remote/llm-proxy', { headers })
  const url = (q = '') => new URL(`http://x/api/remote/llm-proxy${q}`)
  test('from path and header style', () => {
    expect(inferProvider(req({ 'x-api-key': 't' }), '/v1/messages', url())).toBe('anthropic')
    expect(inferProvider(req({ authorization: 'Bearer t' }), '/v1beta/models/g:generateContent', url())).toBe(
      'google',
    )
    expect(inferProvider(req({}), '/v1beta/models/g:generateContent', url('?key=t'))).toBe('google')
    expect(inferProvider(req({ authorization: 'Bearer t' }), '/v1/chat/completions', url())).toBe('openai')
  })
})

test('upstream headers carry only the real key, the provider way', () => {
  const incoming = new Headers({
    authorization: 'Bearer oa-pt.x',
    'x-api-key': 'oa-pt.x',
    'x-goog-api-key': 'oa-pt.x',
    cookie: 'a=b',
    'content-type': 'application/json',
    'anthropic-beta': 'tools-2024',
  })
  const anthropic = upstreamHeaders('anthropic', incoming, 'real')
  expect(Object.fromEntries(anthropic)).toEqual({
    'x-api-key': 'real',
    'content-type': 'application/json',
    'anthropic-beta': 'tools-2024',
    'anthropic-version': '2023-06-01',
  })
  expect(upstreamHeaders('openai', incoming, 'real').get('authorization')).toBe('Bearer real')
  expect(upstreamHeaders('google', incoming, 'real').get('x-goog-api-key')).toBe('real')
  expect(upstreamHeaders('google', incoming, 'real').get('authorization')).toBeNull()
})

describe('usage meter', () => {
  const enc = (s: string) => new TextEncoder().encode(s)
  const dec = (b: Uint8Array | null) => (b ? new TextDecoder().decode(b) : '')

  test('anthropic SSE split at awkward places, with cache tokens', () => {
    const m = createMeter('anthropic', { sse: true, stripUsageChunk: false, model: 'req-model' })
    const text =
      'event: message_start\ndata: {"type":"message_start","message":{"model":"claude-x","usage":{"input_tokens":10,"cache_read_input_tokens":5,"output_tokens":1}}}\n\n' +
      'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":42}}\n\n'
    let out = ''
    for (let i = 0; i < text.length; i += 7) out += dec(m.push(enc(text.slice(i, i + 7))))
    m.finish()
    expect(out).toBe(text)
    expect(m.count).toEqual({ model: 'claude-x', inputTokens: 15, outputTokens: 42 })
  })

  test('openai: the usage-only chunk the proxy asked for is dropped, everything else kept', () => {
    const m = createMeter('openai', { sse: true, stripUsageChunk: true, model: null })
    const content = 'data: {"model":"gpt","choices":[{"delta":{"content":"hi"}}]}\n\n'
    const usage = 'data: {"model":"gpt","choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}}\n\n'
    const done = 'data: [DONE]\n\n'
    const out =
      dec(m.push(enc(content + usage.slice(0, 20)))) +
      dec(m.push(enc(usage.slice(20) + done))) +
      dec(m.finish())
    expect(out).toBe(content + done)
    expect(m.count).toEqual({ model: 'gpt', inputTokens: 3, outputTokens: 4 })
  })

  test('JSON bodies: OpenAI, Google (array form) and a non-JSON body counted as zero', () => {
    const openai = createMeter('openai', { sse: false, stripUsageChunk: false, model: 'm' })
    openai.push(enc('{"usage":{"prompt_tokens":9,'))
    openai.push(enc('"completion_tokens":1}}'))
    openai.finish()
    expect(openai.count).toEqual({ model: 'm', inputTokens: 9, outputTokens: 1 })
    const google = createMeter('google', { sse: false, stripUsageChunk: false, model: 'g' })
    google.push(
      enc(
        '[{"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":1}},{"usageMetadata":{"promptTokenCount":2,"candidatesTokenCount":8,"thoughtsTokenCount":3}}]',
      ),
    )
    google.finish()
    expect(google.count).toEqual({ model: 'g', inputTokens: 2, outputTokens: 11 })
    const binary = createMeter('openai', { sse: false, stripUsageChunk: false, model: null })
    binary.push(new Uint8Array([0, 255, 1]))
    binary.finish()
    expect(binary.count).toEqual({ model: null, inputTokens: 0, outputTokens: 0 })
  })
})
