// LLM upstream faults through the real proxy with two keys (tried in name order): 429 and 500
// fail over to the second key, streaming or not; a reset mid-stream and a stall end the
// client's call with a clean error and are never replayed on the other key; the usage ledger
// counts exactly the answers that completed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import OpenAI from 'openai'
import { quotaUsage } from '../../server/db/schema/index.ts'
import { flushUsage } from '../../server/quota/ledger.ts'
import { FAKE_WRITE_MODES, type FakeLlm, type FakeWrites, startFakeLlm } from '../support/fake-llm.ts'
import { proxyTokenFor, storeKey } from '../support/llm-proxy.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

const FLAKY = 'sk-chaos-flaky-key-aaaa'
const GOOD = 'sk-chaos-good-key-bbbb'
const USAGE = { input: 21, output: 13 }
/** The client gives up on a stalled stream after this long. */
const CLIENT_TIMEOUT_MS = 1500

/** Every test runs against an upstream writing each SSE event in one go and one by one. */
for (const writes of FAKE_WRITE_MODES) describe(`upstream writes ${writes}`, () => suite(writes))

function suite(writes: FakeWrites) {
  let server: TestServer
  let fake: FakeLlm

  beforeAll(async () => {
    // Keys are tried in stored order on every call here (no cooldown), which these tests rely on.
    server = await startTestServer({ listen: true, env: { LLM_PROXY_KEY_COOLDOWN_MS: '0' } })
    fake = await startFakeLlm({ usage: USAGE }, { writes })
    const admin = await server.login()
    await storeKey(server, admin, {
      provider: 'openai',
      key_name: 'a-flaky',
      api_key: FLAKY,
      base_url: `${fake.url}/v1`,
    })
    await storeKey(server, admin, {
      provider: 'openai',
      key_name: 'b-good',
      api_key: GOOD,
      base_url: `${fake.url}/v1`,
    })
  })
  afterAll(async () => {
    await fake?.close()
    await server?.stop()
  })

  /** Ledger totals of one session: requests and tokens per HTTP status. */
  async function ledger(sessionId: string) {
    await flushUsage(server.ctx)
    const rows = await server.ctx.db.select().from(quotaUsage).where(eq(quotaUsage.sessionId, sessionId))
    const out: Record<number, { requests: number; input: number; output: number }> = {}
    for (const r of rows) {
      out[r.status] ??= { requests: 0, input: 0, output: 0 }
      out[r.status]!.requests += r.requests
      out[r.status]!.input += r.inputTokens
      out[r.status]!.output += r.outputTokens
    }
    return out
  }

  async function client() {
    const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
    const openai = new OpenAI({
      baseURL: `${server.url}/api/remote/llm-proxy/v1`,
      apiKey: token,
      maxRetries: 0,
      timeout: CLIENT_TIMEOUT_MS,
    })
    return { openai, sessionId }
  }

  const keysSince = (n: number) => fake.requests.slice(n).map((r) => r.key)

  describe('LLM upstream faults through the proxy', () => {
    test('429 and 500 on the first key fail over to the second, plain and streaming; usage counted once each', async () => {
      const { openai, sessionId } = await client()
      const before = fake.requests.length
      for (const status of [429, 500]) {
        fake.setBehaviour({ usage: USAGE, forKey: { [FLAKY]: { status } } })
        const done = await openai.chat.completions.create({ model: 'm', messages: [] })
        expect(done.choices[0]!.message.content).toBe('Hello from the fake LLM.')
        const stream = await openai.chat.completions.create({
          model: 'm',
          messages: [],
          stream: true,
          stream_options: { include_usage: true },
        })
        let text = ''
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
        expect(text).toBe('Hello from the fake LLM.')
      }
      expect(keysSince(before)).toEqual([FLAKY, GOOD, FLAKY, GOOD, FLAKY, GOOD, FLAKY, GOOD])
      expect((await ledger(sessionId))[200]).toEqual({
        requests: 4,
        input: 4 * USAGE.input,
        output: 4 * USAGE.output,
      })
    })

    test('both keys failing: a well-formed provider error, no tokens counted', async () => {
      const { openai, sessionId } = await client()
      fake.setBehaviour({ usage: USAGE, forKey: { [FLAKY]: { status: 500 }, [GOOD]: { status: 429 } } })
      const err = await openai.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e)
      expect(err).toBeInstanceOf(OpenAI.APIError)
      expect(err.status).toBe(429)
      expect(typeof err.error?.message).toBe('string')
      const totals = Object.values(await ledger(sessionId))
      expect(totals.reduce((n, t) => n + t.input + t.output, 0)).toBe(0)
    })

    test('a reset mid-stream ends the call with an error and is not replayed on the other key', async () => {
      const { openai, sessionId } = await client()
      const before = fake.requests.length
      fake.setBehaviour({ usage: USAGE, chunks: 6, forKey: { [FLAKY]: { resetAfterChunks: 2 } } })
      const stream = await openai.chat.completions.create({ model: 'm', messages: [], stream: true })
      let text = ''
      const failure = await (async () => {
        for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? ''
      })().catch((e) => e)
      expect(failure).toBeInstanceOf(Error)
      expect(text).not.toBe('Hello from the fake LLM.')
      expect(keysSince(before)).toEqual([FLAKY])
      expect(await ledger(sessionId)).toEqual({ 502: { requests: 1, input: 0, output: 0 } })
    })

    test('a stalled upstream: the client times out cleanly, the upstream call is cancelled, nothing counted as done', async () => {
      const { openai, sessionId } = await client()
      const before = fake.requests.length
      fake.setBehaviour({ usage: USAGE, forKey: { [FLAKY]: { stall: true } } })
      const started = Date.now()
      // The upstream never answers; the client gives up after its timeout.
      const failure = await openai.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e)
      expect(failure).toBeInstanceOf(OpenAI.APIConnectionTimeoutError)
      expect(Date.now() - started).toBeLessThan(CLIENT_TIMEOUT_MS * 4)
      expect(keysSince(before)).toEqual([FLAKY])
      const upstream = fake.requests[before]!
      await waitUntil(() => upstream.aborted, { what: 'the upstream request aborted', timeoutMs: 3000 })
      expect((await ledger(sessionId))[200]).toBeUndefined()
      // The proxy is not wedged: the next call goes through.
      fake.setBehaviour({ usage: USAGE })
      const done = await openai.chat.completions.create({ model: 'm', messages: [] })
      expect(done.usage?.total_tokens).toBe(USAGE.input + USAGE.output)
    })
  })
}
