// The LLM proxy end to end over a real socket: official SDKs unchanged, streaming, usage counted
// from the fake upstream's figures, keys injected and never leaked, failover, limits, aborts.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import Anthropic from '@anthropic-ai/sdk'
import { eq, sql } from 'drizzle-orm'
import OpenAI from 'openai'
import { FAKE_WRITE_MODES, type FakeLlm, type FakeWrites, startFakeLlm } from '../../test/support/fake-llm.ts'
import { proxyTokenFor, storeKey } from '../../test/support/llm-proxy.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { quotaUsage } from '../db/schema/index.ts'
import { flushUsage } from '../quota/ledger.ts'

const OPENAI_KEY = 'sk-openai-real-secret-0001'
const ANTHROPIC_KEY = 'sk-ant-real-secret-0002'
const GOOGLE_KEY = 'AIza-google-real-secret-0003'
const SECRETS = [OPENAI_KEY, ANTHROPIC_KEY, GOOGLE_KEY]

/** Every test below runs against an upstream writing each SSE event in one go and one by one. */
for (const writes of FAKE_WRITE_MODES) describe(`upstream writes ${writes}`, () => suite(writes))

function suite(writes: FakeWrites) {
  let server: TestServer
  let fake: FakeLlm
  let admin: string
  /** Every byte and header the clients received, to prove no real key ever came back. */
  const seen: string[] = []

  const proxyUrl = (path = '') => `${server.url}/api/remote/llm-proxy${path}`

  /** The ledger's totals for one session, per provider/model/status (identical requests may share a row). */
  async function usageOf(sessionId: string) {
    await flushUsage(server.ctx)
    const rows = await server.ctx.db.select().from(quotaUsage).where(eq(quotaUsage.sessionId, sessionId))
    const out: Record<string, { requests: number; input: number; output: number }> = {}
    for (const r of rows) {
      const key = `${r.provider}/${r.model}/${r.status}`
      out[key] ??= { requests: 0, input: 0, output: 0 }
      out[key].requests += r.requests
      out[key].input += r.inputTokens
      out[key].output += r.outputTokens
    }
    return out
  }

  async function capture(res: Response): Promise<string> {
    const text = await res.text()
    seen.push(text, JSON.stringify([...res.headers]))
    return text
  }

  beforeAll(async () => {
    server = await startTestServer({
      listen: true,
      env: { LLM_PROXY_EXTRA_ENDPOINTS: 'openai POST /audio/transcriptions' },
    })
    fake = await startFakeLlm({ usage: { input: 21, output: 13 } }, { writes })
    admin = await server.login()
    await storeKey(server, admin, {
      provider: 'openai',
      key_name: 'production',
      api_key: OPENAI_KEY,
      base_url: `${fake.url}/v1`,
    })
    await storeKey(server, admin, {
      provider: 'anthropic',
      key_name: 'main',
      api_key: ANTHROPIC_KEY,
      base_url: fake.url,
    })
    await storeKey(server, admin, {
      provider: 'google',
      key_name: 'main',
      api_key: GOOGLE_KEY,
      base_url: fake.url,
    })
  })

  afterAll(async () => {
    await fake.close()
    await server.stop()
  })

  describe('official SDKs through the proxy', () => {
    test('openai: a completion and a stream; usage counted; the extra usage chunk hidden', async () => {
      const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
      const fetchSpy = async (input: string | URL | Request, init?: RequestInit) => {
        const res = await fetch(input, init)
        seen.push(JSON.stringify([...res.headers]))
        return res
      }
      const client = new OpenAI({ baseURL: proxyUrl('/v1'), apiKey: token, fetch: fetchSpy, timeout: 10_000 })
      const done = await client.chat.completions.create({
        model: 'gpt-x',
        messages: [{ role: 'user', content: 'hi' }],
      })
      expect(done.choices[0]!.message.content).toBe('Hello from the fake LLM.')
      expect(done.usage?.total_tokens).toBe(34)
      seen.push(JSON.stringify(done))

      const stream = await client.chat.completions.create({
        model: 'gpt-x',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
      })
      const chunks = []
      for await (const chunk of stream) chunks.push(chunk)
      seen.push(JSON.stringify(chunks))
      expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from the fake LLM.')
      expect(chunks.some((c) => c.usage)).toBe(false)
      expect((fake.requests.at(-1)!.json as { stream_options: unknown }).stream_options).toEqual({
        include_usage: true,
      })

      const asked = await client.chat.completions.create({
        model: 'gpt-x',
        messages: [{ role: 'user', content: 'hi' }],
        stream: true,
        stream_options: { include_usage: true },
      })
      const withUsage = []
      for await (const chunk of asked) withUsage.push(chunk)
      expect(withUsage.at(-1)!.usage?.prompt_tokens).toBe(21)

      expect(await usageOf(sessionId)).toEqual({ 'openai/gpt-x/200': { requests: 3, input: 63, output: 39 } })
      expect(fake.requests.at(-1)!.path).toBe('/v1/chat/completions')
    })

    test('openai responses: a response and a stream (Codex wire format); usage from response.completed', async () => {
      const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
      const client = new OpenAI({ baseURL: proxyUrl('/v1'), apiKey: token, timeout: 10_000 })
      const done = await client.responses.create({ model: 'gpt-r', input: 'hi' })
      expect(done.output_text).toBe('Hello from the fake LLM.')
      expect(done.usage?.total_tokens).toBe(34)
      seen.push(JSON.stringify(done))

      const stream = await client.responses.create({ model: 'gpt-r', input: 'hi', stream: true })
      const events = []
      for await (const event of stream) events.push(event)
      seen.push(JSON.stringify(events))
      const deltas = events.flatMap((e) => (e.type === 'response.output_text.delta' ? [e.delta] : []))
      expect(deltas.join('')).toBe('Hello from the fake LLM.')
      const completed = events.at(-1)
      expect(completed?.type).toBe('response.completed')
      expect(fake.requests.at(-1)!.path).toBe('/v1/responses')

      expect(await usageOf(sessionId)).toEqual({ 'openai/gpt-r/200': { requests: 2, input: 42, output: 26 } })
    })

    test('anthropic: a message and a stream, with ?beta=true; usage from message_start + message_delta', async () => {
      const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'anthropic' })
      const client = new Anthropic({ baseURL: proxyUrl(), apiKey: token })
      const message = await client.messages.create({
        model: 'claude-x',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hi' }],
      })
      seen.push(JSON.stringify(message))
      expect(message.content[0]).toMatchObject({ type: 'text', text: 'Hello from the fake LLM.' })
      const stream = client.beta.messages.stream({
        model: 'claude-x',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'hi' }],
      })
      const final = await stream.finalMessage()
      seen.push(JSON.stringify(final))
      expect(final.usage.output_tokens).toBe(13)
      expect(fake.requests.at(-1)!.path).toBe('/v1/messages')
      expect(fake.requests.at(-1)!.headers['x-api-key']).toBe(ANTHROPIC_KEY)
      const beta = await fetch(proxyUrl('/v1/messages?beta=true'), {
        method: 'POST',
        headers: {
          'x-api-key': token,
          'content-type': 'application/json',
          'anthropic-version': '2023-06-01',
        },
        body: JSON.stringify({ model: 'claude-x', max_tokens: 5, messages: [] }),
      })
      expect(JSON.parse(await capture(beta)).type).toBe('message')
      expect(fake.requests.at(-1)!.search).toBe('?beta=true')
      expect(await usageOf(sessionId)).toEqual({
        'anthropic/claude-x/200': { requests: 3, input: 63, output: 39 },
      })
    })

    test('google: generateContent and streamGenerateContent with the token in ?key= or x-goog-api-key', async () => {
      const { token, sessionId } = await proxyTokenFor(server, 1)
      const body = JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] })
      const once = await fetch(proxyUrl(`/v1beta/models/gemini-x:generateContent?key=${token}`), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      })
      expect(JSON.parse(await capture(once)).usageMetadata.totalTokenCount).toBe(34)
      expect(fake.requests.at(-1)!.search).toBe('')
      const streamed = await fetch(proxyUrl('/v1beta/models/gemini-x:streamGenerateContent?alt=sse'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-goog-api-key': token },
        body,
      })
      expect(streamed.headers.get('content-type')).toContain('text/event-stream')
      expect((await capture(streamed)).match(/^data: /gm)?.length).toBe(3)
      expect(fake.requests.at(-1)!.headers['x-goog-api-key']).toBe(GOOGLE_KEY)
      expect(await usageOf(sessionId)).toEqual({
        'google/fake-model/200': { requests: 2, input: 42, output: 26 },
      })
    })
  })

  describe('keys', () => {
    test('the client credential and cookies are stripped; only the real key goes upstream', async () => {
      const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
      const res = await fetch(proxyUrl('/v1/chat/completions'), {
        method: 'POST',
        headers: {
          authorization: `Bearer ${token}`,
          'x-api-key': token,
          cookie: 'oa_session=abc',
          'content-type': 'application/json',
        },
        body: JSON.stringify({ model: 'm', messages: [] }),
      })
      expect(res.status).toBe(200)
      await capture(res)
      const arrived = fake.requests.at(-1)!
      expect(arrived.headers.authorization).toBe(`Bearer ${OPENAI_KEY}`)
      expect(arrived.headers['x-api-key']).toBeUndefined()
      expect(arrived.headers.cookie).toBeUndefined()
      expect(JSON.stringify(fake.requests)).not.toContain(token)
    })

    test('a bare POST /api/remote/llm-proxy goes to the provider main endpoint', async () => {
      const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
      const res = await fetch(proxyUrl(), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', messages: [] }),
      })
      expect(JSON.parse(await capture(res)).object).toBe('chat.completion')
      expect(fake.requests.at(-1)!.path).toBe('/v1/chat/completions')
    })

    test('fails over to the next key on 5xx, 429 and connection errors', async () => {
      // No cooldown here: the keys are tried in stored order on every call.
      const s = await startTestServer({ listen: true, env: { LLM_PROXY_KEY_COOLDOWN_MS: '0' } })
      const cookie = await s.login()
      const dead = Bun.serve({ port: 0, fetch: () => new Response() })
      const deadUrl = `http://127.0.0.1:${dead.port}/v1`
      await dead.stop(true)
      try {
        await storeKey(s, cookie, {
          provider: 'openai',
          key_name: 'a-down',
          api_key: 'sk-first-key-aaaa',
          base_url: deadUrl,
        })
        await storeKey(s, cookie, {
          provider: 'openai',
          key_name: 'b-busy',
          api_key: 'sk-second-key-bbbb',
          base_url: `${fake.url}/v1`,
        })
        await storeKey(s, cookie, {
          provider: 'openai',
          key_name: 'c-good',
          api_key: 'sk-third-key-cccc',
          base_url: `${fake.url}/v1`,
        })
        const before = fake.requests.length
        fake.setBehaviour({
          usage: { input: 21, output: 13 },
          forKey: { 'sk-second-key-bbbb': { status: 429 } },
        })
        const { token } = await proxyTokenFor(s, 1, { provider: 'openai' })
        const client = new OpenAI({
          baseURL: `${s.url}/api/remote/llm-proxy/v1`,
          apiKey: token,
          maxRetries: 0,
        })
        const done = await client.chat.completions.create({ model: 'm', messages: [] })
        expect(done.choices[0]!.message.content).toBe('Hello from the fake LLM.')
        expect(fake.requests.slice(before).map((r) => r.key)).toEqual([
          'sk-second-key-bbbb',
          'sk-third-key-cccc',
        ])

        fake.setBehaviour({
          forKey: { 'sk-second-key-bbbb': { status: 500 }, 'sk-third-key-cccc': { status: 503 } },
        })
        const err = await client.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e)
        expect(err).toBeInstanceOf(OpenAI.APIError)
        expect(err.status).toBe(503)
        expect(s.logs.join('\n')).not.toContain('sk-second-key-bbbb')
      } finally {
        fake.setBehaviour({ usage: { input: 21, output: 13 } })
        await s.stop()
      }
    })

    test("an upstream error goes back as it is, without Bun's alert() (which waits for Enter on stdin)", async () => {
      const alerted: unknown[] = []
      const original = globalThis.alert
      globalThis.alert = (message?: unknown) => void alerted.push(message)
      try {
        fake.queue({ status: 500 })
        const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
        const res = await fetch(proxyUrl('/v1/chat/completions'), {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'm', messages: [] }),
        })
        expect(res.status).toBe(500)
        await capture(res)
        expect(alerted).toEqual([])
      } finally {
        globalThis.alert = original
      }
    })

    test('a silent upstream and a key-specific 400 fail over within the timeout; the failing keys cool down', async () => {
      const s = await startTestServer({
        listen: true,
        env: { LLM_PROXY_FIRST_BYTE_TIMEOUT_MS: '700', LLM_PROXY_IDLE_TIMEOUT_MS: '700' },
      })
      const cookie = await s.login()
      const silent = 'sk-silent-key-aaaa'
      const revoked = 'sk-revoked-key-bbbb'
      const good = 'sk-good-key-cccc'
      try {
        for (const [name, key] of [
          ['a-silent', silent],
          ['b-revoked', revoked],
          ['c-good', good],
        ] as const)
          await storeKey(s, cookie, {
            provider: 'openai',
            key_name: name,
            api_key: key,
            base_url: `${fake.url}/v1`,
          })
        fake.setBehaviour({
          usage: { input: 21, output: 13 },
          forKey: {
            [silent]: { delayMs: 30_000 },
            [revoked]: { status: 400, errorMessage: 'Incorrect API key provided: sk-revo****bbbb' },
          },
        })
        const { token, sessionId } = await proxyTokenFor(s, 1, { provider: 'openai' })
        const post = (body: unknown) =>
          fetch(`${s.url}/api/remote/llm-proxy/v1/chat/completions`, {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        const before = fake.requests.length
        const t0 = performance.now()
        const res = await post({ model: 'm', messages: [] })
        const elapsed = performance.now() - t0
        expect(res.status).toBe(200)
        expect(
          ((await res.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]!.message
            .content,
        ).toBe('Hello from the fake LLM.')
        expect(fake.requests.slice(before).map((r) => r.key)).toEqual([silent, revoked, good])
        // One first-byte timeout (700 ms) plus slack for a loaded machine, not the silent 30 s.
        expect(elapsed).toBeLessThan(10_000)

        // Cooling keys go last: the next call goes straight to the good key.
        const next = fake.requests.length
        expect((await post({ model: 'm', messages: [] })).status).toBe(200)
        expect(fake.requests.slice(next).map((r) => r.key)).toEqual([good])

        // A 400 about the request itself goes back as it is, without trying another key.
        fake.setBehaviour({
          forKey: { [good]: { status: 400, errorMessage: "'messages' is a required property" } },
        })
        const bad = fake.requests.length
        const refused = await post({ model: 'm' })
        expect(refused.status).toBe(400)
        expect(await refused.text()).toContain('required property')
        expect(fake.requests.slice(bad).map((r) => r.key)).toEqual([good])

        // An answer that goes quiet mid-stream is cut off after the idle timeout, counted as 504.
        fake.setBehaviour({ usage: { input: 21, output: 13 }, chunks: 2, chunkDelayMs: 3000 })
        const quiet = await post({ model: 'm', stream: true, messages: [] })
        expect(quiet.status).toBe(200)
        await expect(quiet.text()).rejects.toBeDefined()
        await flushUsage(s.ctx)
        const statuses = (
          await s.ctx.db.select().from(quotaUsage).where(eq(quotaUsage.sessionId, sessionId))
        ).map((r) => r.status)
        expect(statuses).toContain(504)

        const health = await s.request('/api/remote/api-keys/health', { cookie })
        const { keys } = (await health.json()) as { keys: Array<Record<string, unknown>> }
        const byName = Object.fromEntries(keys.map((k) => [k.key_name, k]))
        expect(byName['a-silent']).toMatchObject({ state: 'cooling_down', failures: 1, last_status: null })
        expect(byName['b-revoked']).toMatchObject({ state: 'cooling_down', failures: 1, last_status: 400 })
        expect(byName['c-good']).toMatchObject({ state: 'healthy', failures: 0 })
        expect(JSON.stringify(keys)).not.toContain('sk-')
      } finally {
        fake.setBehaviour({ usage: { input: 21, output: 13 } })
        await s.stop()
      }
    })

    test('no key for the provider gives exactly the config_error body; no environment fallback', async () => {
      const s = await startTestServer({ env: { OPENAI_API_KEY: 'sk-from-env' } })
      try {
        const { token } = await proxyTokenFor(s, 1, { provider: 'openai' })
        const res = await s.request('/api/remote/llm-proxy/v1/chat/completions', {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
          json: { model: 'm', messages: [] },
        })
        expect(res.status).toBe(400)
        expect(await res.text()).toBe(
          '{"error":{"message":"No API key configured for provider \'openai\'","type":"config_error"}}',
        )
      } finally {
        await s.stop()
      }
    })
  })

  describe('bodies and streams', () => {
    test('a stream without stream_options ends with [DONE], the added usage chunk hidden', async () => {
      const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
      const res = await fetch(proxyUrl('/v1/chat/completions'), {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'm', stream: true, messages: [] }),
        signal: AbortSignal.timeout(5000),
      })
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

  describe('closed to everything but inference', () => {
    test('endpoints off the allowlist are 404 in the provider shape and never reach the upstream', async () => {
      const openai = await proxyTokenFor(server, 1, { provider: 'openai' })
      const anthropic = await proxyTokenFor(server, 1, { provider: 'anthropic' })
      const google = await proxyTokenFor(server, 1, { provider: 'google' })
      const before = fake.requests.length
      const calls: Array<[string, string, string, string]> = [
        [openai.token, 'DELETE', '/v1/files/file-123', 'openai'],
        [openai.token, 'POST', '/v1/batches', 'openai'],
        [openai.token, 'GET', '/v1/files', 'openai'],
        [openai.token, 'POST', '/v1/audio/speech', 'openai'],
        [openai.token, 'POST', '/v1/../v1/batches', 'openai'],
        [anthropic.token, 'POST', '/v1/messages/batches', 'anthropic'],
        [anthropic.token, 'DELETE', '/v1/models/claude-x', 'anthropic'],
        [google.token, 'POST', '/v1beta/models/gemini-x:embedContent', 'google'],
        [google.token, 'POST', '/v1beta/cachedContents', 'google'],
      ]
      for (const [token, method, path, shape] of calls) {
        const res = await fetch(proxyUrl(path), {
          method,
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: method === 'GET' ? undefined : '{}',
        })
        const body = JSON.parse(await capture(res))
        expect({ path, status: res.status }).toEqual({ path, status: 404 })
        if (shape === 'anthropic') expect(body.type).toBe('error')
        if (shape === 'google') expect(body.error.status).toBe('NOT_FOUND')
        if (shape === 'openai') expect(body.error.type).toBe('not_found_error')
      }
      expect(fake.requests.length).toBe(before)
    })

    test('GET /v1/models works through the official openai SDK; Anthropic and Google lists too', async () => {
      const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
      const client = new OpenAI({ baseURL: proxyUrl('/v1'), apiKey: token, timeout: 10_000 })
      const ids = []
      for await (const model of client.models.list()) ids.push(model.id)
      expect(ids).toEqual(['fake-model'])
      expect(fake.requests.at(-1)).toMatchObject({ method: 'GET', path: '/v1/models', key: OPENAI_KEY })
      const anthropic = await proxyTokenFor(server, 1, { provider: 'anthropic' })
      const listed = await new Anthropic({ baseURL: proxyUrl(), apiKey: anthropic.token }).models.list()
      expect(listed.data.map((m) => m.id)).toEqual(['fake-model'])
      const google = await proxyTokenFor(server, 1, { provider: 'google' })
      const res = await fetch(proxyUrl(`/v1beta/models?key=${google.token}`))
      expect(JSON.parse(await capture(res)).models[0].name).toBe('models/fake-model')
      expect(fake.requests.at(-1)).toMatchObject({ path: '/v1beta/models', key: GOOGLE_KEY })
    })

    test('GET /api/remote/models: every key list for the UI, cached, logged-in users only', async () => {
      expect((await server.request('/api/remote/models')).status).toBe(401)
      const res = await server.request('/api/remote/models', { cookie: admin })
      expect(res.status).toBe(200)
      const { models } = (await res.json()) as { models: Array<Record<string, unknown>> }
      const byProvider = Object.fromEntries(models.map((m) => [m.provider, m]))
      for (const provider of ['openai', 'anthropic', 'google'])
        expect(byProvider[provider]).toMatchObject({ models: [{ id: 'fake-model' }], error: null })
      const before = fake.requests.length
      const again = await server.request('/api/remote/models?provider=openai', { cookie: admin })
      expect(((await again.json()) as { models: unknown[] }).models).toHaveLength(1)
      expect(fake.requests.length).toBe(before)
      await server.request('/api/remote/models?provider=openai&refresh=true', { cookie: admin })
      expect(fake.requests.length).toBe(before + 1)
    })

    test('an upstream that echoes the key never gets it back to the client (headers, bodies, streams)', async () => {
      fake.setBehaviour({ echoKey: true, usage: { input: 21, output: 13 }, chunks: 1 })
      try {
        const { token } = await proxyTokenFor(server, 1, { provider: 'openai' })
        const post = (body: unknown) =>
          fetch(proxyUrl('/v1/chat/completions'), {
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body: JSON.stringify(body),
          })
        const once = await post({ model: 'm', messages: [] })
        const headers = JSON.stringify([...once.headers])
        const text = await capture(once)
        expect(text).toContain('Your key is [redacted], keep it safe.')
        expect(once.headers.get('x-request-id')).toBe('req [redacted]')
        expect(once.headers.get('x-upstream-key')).toBeNull()
        expect(headers + text).not.toContain(OPENAI_KEY)
        const streamed = await capture(await post({ model: 'm', stream: true, messages: [] }))
        expect(streamed).toContain('Your key is [redacted]')
        const models = await fetch(proxyUrl('/v1/models'), { headers: { authorization: `Bearer ${token}` } })
        expect(await capture(models)).toContain('fake [redacted]')
        expect(fake.requests.at(-1)!.key).toBe(OPENAI_KEY)
      } finally {
        fake.setBehaviour({ usage: { input: 21, output: 13 } })
      }
    })
  })

  describe('secrets', () => {
    test('no real key in any response, header, log line or database column', async () => {
      const tables = await server.ctx.db.execute<{ table_name: string }>(
        sql`select table_name from information_schema.tables where table_schema = 'public'`,
      )
      const rows =
        (tables as unknown as { rows?: Array<{ table_name: string }> }).rows ??
        (tables as unknown as Array<{ table_name: string }>)
      let dump = ''
      for (const { table_name } of rows) {
        const content = await server.ctx.db.execute(sql.raw(`select t::text as row from "${table_name}" t`))
        dump += JSON.stringify(content)
      }
      expect(dump).toContain('production')
      const haystacks = { responses: seen.join('\n'), logs: server.logs.join('\n'), database: dump }
      for (const secret of SECRETS) {
        for (const [where, text] of Object.entries(haystacks))
          expect({ where, found: text.includes(secret) }).toEqual({ where, found: false })
      }
      expect(fake.requests.some((r) => r.key === OPENAI_KEY)).toBe(true)
    })
  })
}
