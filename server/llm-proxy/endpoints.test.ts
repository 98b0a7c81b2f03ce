// The proxy is closed to everything but inference: unknown paths, methods and endpoints are refused.
// Every test runs against an upstream writing each SSE event in one go and one by one.
import { expect, test } from 'bun:test'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { proxyTokenFor } from '../../test/support/llm-proxy.ts'
import {
  admin,
  capture,
  describeThroughProxy,
  fake,
  GOOGLE_KEY,
  OPENAI_KEY,
  proxyUrl,
  server,
} from './proxy-test-world.ts'

describeThroughProxy('closed to everything but inference', () => {
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
      const models = await fetch(proxyUrl('/v1/models'), {
        headers: { authorization: `Bearer ${token}` },
      })
      expect(await capture(models)).toContain('fake [redacted]')
      expect(fake.requests.at(-1)!.key).toBe(OPENAI_KEY)
    } finally {
      fake.setBehaviour({ usage: { input: 21, output: 13 } })
    }
  })
})
