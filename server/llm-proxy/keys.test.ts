// Keys through the proxy: the client credential is stripped and only the real key goes upstream; failover, health and limits.
// Every test runs against an upstream writing each SSE event in one go and one by one.
import { expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import OpenAI from 'openai'
import { proxyTokenFor, storeFakeUpstreamKeys, storeKey } from '../../test/support/llm-proxy.ts'
import { startTestServer } from '../../test/support/server.ts'
import { quotaUsage } from '../db/schema/index.ts'
import { flushUsage } from '../quota/ledger.ts'
import { capture, describeThroughProxy, fake, OPENAI_KEY, proxyUrl, server } from './proxy-test-world.ts'

describeThroughProxy('keys', () => {
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
      await storeFakeUpstreamKeys(s, cookie, fake, [
        { provider: 'openai', key_name: 'b-busy', api_key: 'sk-second-key-bbbb' },
        { provider: 'openai', key_name: 'c-good', api_key: 'sk-third-key-cccc' },
      ])
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
        await storeFakeUpstreamKeys(s, cookie, fake, [{ provider: 'openai', key_name: name, api_key: key }])
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
