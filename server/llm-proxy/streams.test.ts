// Bodies and streams through the proxy: sizes, streaming, aborts and what each counts.
// Every test runs against an upstream writing each SSE event in one go and one by one.
import { expect, test } from 'bun:test'
import { proxyTokenFor } from '../../test/support/llm-proxy.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { capture, describeThroughProxy, fake, proxyUrl, server, usageOf } from './proxy-test-world.ts'

describeThroughProxy('bodies and streams', (writes) => {
  test('a stream without stream_options ends with [DONE], the added usage chunk hidden', async () => {
    const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
    const res = await fetch(proxyUrl('/v1/chat/completions'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [] }),
      signal: AbortSignal.timeout(5000),
    })
    expect(res.headers.get('x-accel-buffering')).toBe('no')
    const text = await capture(res)
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true)
    expect(text).not.toContain('"usage"')
    expect(await usageOf(sessionId)).toEqual({ 'openai/m/200': { requests: 1, input: 21, output: 13 } })
  })

  test('asking for usage leaves the rest of the body byte for byte; existing stream_options are kept', async () => {
    const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
    const send = async (body: string) => {
      const before = fake.requests.length
      const res = await fetch(proxyUrl('/v1/chat/completions'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body,
      })
      expect(res.status).toBe(200)
      await capture(res)
      return fake.requests.slice(before).find((r) => r.path === '/v1/chat/completions')!
    }
    // Whitespace, key order and escapes as the client wrote them (re-serializing would change all three).
    const raw =
      ' {\n  "model" : "m",\n  "stream": true,\n  "messages": [{"role": "user", "content": "caf\\u00e9 \\/"}]\n}'
    const sent = await send(raw)
    expect(sent.body).toBe(` {"stream_options":{"include_usage":true},${raw.slice(2)}`)
    expect((sent.json as { stream_options: unknown }).stream_options).toEqual({ include_usage: true })

    const merged = await send(
      JSON.stringify({
        model: 'm',
        stream: true,
        stream_options: { continuous_usage_stats: false },
        messages: [],
      }),
    )
    expect((merged.json as { stream_options: unknown }).stream_options).toEqual({
      continuous_usage_stats: false,
      include_usage: true,
    })
  })

  test('a body over 10 MB is refused with 413 before reaching upstream, declared or chunked', async () => {
    const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
    const before = fake.requests.length
    const big = new Uint8Array(10 * 1024 * 1024 + 1)
    const declared = await fetch(proxyUrl('/v1/chat/completions'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: big,
    })
    expect(declared.status).toBe(413)
    expect(((await declared.json()) as { error: { type: string } }).error.type).toBe('request_too_large')
    const chunked = await fetch(proxyUrl('/v1/chat/completions'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: new Blob([big]).stream(),
    })
    expect(chunked.status).toBe(413)
    expect(fake.requests.length).toBe(before)
  })

  test('a non-JSON body (multipart upload, an endpoint the operator opened) passes through byte for byte', async () => {
    const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
    const form = new FormData()
    form.set('model', 'whisper-x')
    form.set('file', new Blob([new Uint8Array([0, 1, 2, 250, 255])], { type: 'audio/wav' }), 'a.wav')
    const sent = new Request('http://x', { method: 'POST', body: form })
    const type = sent.headers.get('content-type')!
    const bytes = new Uint8Array(await sent.arrayBuffer())
    const res = await fetch(proxyUrl('/v1/audio/transcriptions'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': type },
      body: bytes,
    })
    expect(res.status).toBe(200)
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes)
    expect(fake.requests.at(-1)!.headers['content-type']).toBe(type)
    expect(fake.requests.at(-1)!.path).toBe('/v1/audio/transcriptions')
  })

  test('a client that goes away mid-stream cancels the upstream request', async () => {
    const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'anthropic' })
    fake.setBehaviour({ stall: true, usage: { input: 21, output: 13 } })
    try {
      const abort = new AbortController()
      const res = await fetch(proxyUrl('/v1/messages'), {
        method: 'POST',
        headers: { 'x-api-key': token, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'claude-x', max_tokens: 5, stream: true, messages: [] }),
        signal: abort.signal,
      })
      const reader = res.body!.getReader()
      const first = await reader.read()
      expect(new TextDecoder().decode(first.value)).toContain('message_start')
      const upstream = fake.requests.at(-1)!
      expect(upstream.aborted).toBe(false)
      abort.abort()
      await waitUntil(() => upstream.aborted, { what: 'the upstream request aborted', timeoutMs: 3000 })
      expect(await usageOf(sessionId)).toEqual({
        // Batched, the whole answer (message_stop included) was in the first read: the client
        // left after a complete answer. One by one, it left after message_start.
        ...(writes === 'batched'
          ? { 'anthropic/claude-x/200': { requests: 1, input: 21, output: 13 } }
          : { 'anthropic/claude-x/499': { requests: 1, input: 21, output: 1 } }),
      })
    } finally {
      fake.setBehaviour({ usage: { input: 21, output: 13 } })
    }
  })

  test('an upstream that resets mid-stream ends the client stream with an error, recorded as 502', async () => {
    const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
    fake.queue({ resetAfterChunks: 2 })
    const res = await fetch(proxyUrl('/v1/chat/completions'), {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', stream: true, messages: [] }),
    })
    expect(res.status).toBe(200)
    await expect(res.text()).rejects.toBeDefined()
    expect(await usageOf(sessionId)).toEqual({ 'openai/m/502': { requests: 1, input: 0, output: 0 } })
  })
})
