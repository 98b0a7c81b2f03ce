// The official SDKs (OpenAI, Anthropic) work through the proxy unchanged, usage counted from the upstream's figures.
// Every test runs against an upstream writing each SSE event in one go and one by one.
import { expect, test } from 'bun:test'
import Anthropic from '@anthropic-ai/sdk'
import OpenAI from 'openai'
import { proxyTokenFor } from '../../test/support/llm-proxy.ts'
import {
  ANTHROPIC_KEY,
  capture,
  describeThroughProxy,
  fake,
  GOOGLE_KEY,
  proxyUrl,
  seen,
  server,
  usageOf,
} from './proxy-test-world.ts'

describeThroughProxy('official SDKs through the proxy', () => {
  test('openai: a completion and a stream; usage counted; the extra usage chunk hidden', async () => {
    const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
    const fetchSpy = async (input: string | URL | Request, init?: RequestInit) => {
      const res = await fetch(input, init)
      seen.push(JSON.stringify([...res.headers]))
      return res
    }
    const client = new OpenAI({
      baseURL: proxyUrl('/v1'),
      apiKey: token,
      fetch: fetchSpy,
      timeout: 10_000,
    })
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

    expect(await usageOf(sessionId)).toEqual({
      'openai/gpt-x/200': { requests: 3, input: 63, output: 39 },
    })
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

    expect(await usageOf(sessionId)).toEqual({
      'openai/gpt-r/200': { requests: 2, input: 42, output: 26 },
    })
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
