// GET /metrics end to end: who may read it, and that the figures are the real ones: proxied
// requests and tokens from the fake LLM's usage, agents by transport, commands queued and
// delivered, open SSE streams. Every response must parse line by line.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { connectedAgent, type FakeAgent } from '../../test/support/fake-agent.ts'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import {
  insertLiveSession,
  proxyChat,
  proxyTokenFor,
  storeFakeUpstreamKeys,
} from '../../test/support/llm-proxy.ts'
import { parseExposition, type Sample, sampleValue } from '../../test/support/prometheus.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { queueCommand } from '../agents/commands.ts'
import { quotaUsage } from '../db/schema/index.ts'
import { flushUsage } from '../quota/ledger.ts'
import { metricsTokenMatches, PROMETHEUS_CONTENT_TYPE } from './index.ts'

const METRICS_TOKEN = 'scrape-token-0123456789abcdef'
const USAGE = { input: 21, output: 13 }
let server: TestServer
let fake: FakeLlm
let admin: string
const agents: FakeAgent[] = []

beforeAll(async () => {
  server = await startTestServer({ listen: true, env: { METRICS_TOKEN, AGENT_OFFLINE_GRACE_MS: '0' } })
  fake = await startFakeLlm({ usage: USAGE })
  admin = await server.login()
  await storeFakeUpstreamKeys(server, admin, fake, [
    { provider: 'openai', key_name: 'k', api_key: 'sk-real-1' },
  ])
}, 60_000)
afterAll(async () => {
  for (const a of agents) await a.close()
  await fake.close()
  await server.stop()
}, 60_000)

async function scrape(): Promise<Sample[]> {
  const res = await server.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
  expect(res.status).toBe(200)
  return parseExposition(await res.text())
}

describe('access', () => {
  test('refused without credentials, to a plain user and with a wrong token', async () => {
    const anonymous = await server.request('/metrics')
    expect(anonymous.status).toBe(401)
    expect(((await anonymous.json()) as { error: { type: string } }).error.type).toBe('unauthorized')
    const user = await createUser(server, admin, 'metrics-reader')
    expect((await server.request('/metrics', { cookie: user.cookie })).status).toBe(403)
    const wrong = await server.request('/metrics', { headers: { authorization: `Bearer ${METRICS_TOKEN}x` } })
    expect(wrong.status).toBe(401)
    expect(await wrong.text()).not.toContain(METRICS_TOKEN)
  })

  test('a system admin cookie or the token reads Prometheus text', async () => {
    const res = await server.request('/metrics', { cookie: admin })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe(PROMETHEUS_CONTENT_TYPE)
    const samples = parseExposition(await res.text())
    expect(sampleValue(samples, 'process_resident_memory_bytes')).toBeGreaterThan(1024 * 1024)
    expect(sampleValue(samples, 'process_uptime_seconds')).toBeGreaterThan(0)
    expect((await scrape()).length).toBeGreaterThan(10)
  })

  test('without METRICS_TOKEN configured no bearer token is accepted', () => {
    expect(metricsTokenMatches(undefined, '')).toBe(false)
    expect(metricsTokenMatches(METRICS_TOKEN, METRICS_TOKEN)).toBe(true)
    expect(metricsTokenMatches(METRICS_TOKEN, METRICS_TOKEN.slice(1))).toBe(false)
  })
})

describe('figures', () => {
  test('a proxied request counts once by provider/status, with the upstream usage as tokens', async () => {
    const { token, sessionId } = await proxyTokenFor(server, 1, { provider: 'openai' })
    const res = await proxyChat(server, token)
    expect(res.status).toBe(200)
    await res.text()
    const samples = await scrape()
    expect(
      sampleValue(samples, 'openace_llm_proxy_requests_total', { provider: 'openai', status: '200' }),
    ).toBe(1)
    expect(
      sampleValue(samples, 'openace_llm_proxy_tokens_total', { provider: 'openai', direction: 'input' }),
    ).toBe(USAGE.input)
    expect(
      sampleValue(samples, 'openace_llm_proxy_tokens_total', { provider: 'openai', direction: 'output' }),
    ).toBe(USAGE.output)
    expect(
      sampleValue(samples, 'openace_llm_proxy_added_latency_seconds_count', { provider: 'openai' }),
    ).toBe(1)
    const added = sampleValue(samples, 'openace_llm_proxy_added_latency_seconds_sum', { provider: 'openai' })!
    expect(added).toBeGreaterThan(0)
    // The same figures the usage ledger charged.
    await flushUsage(server.ctx)
    const [row] = await server.ctx.db.select().from(quotaUsage).where(eq(quotaUsage.sessionId, sessionId))
    expect([row!.inputTokens, row!.outputTokens, row!.status]).toEqual([USAGE.input, USAGE.output, 200])
  })

  test('agents by transport follow the connected fake agents; commands queued and delivered', async () => {
    const connect = (transport: 'websocket' | 'long_poll') => connectedAgent(server, admin, agents, transport)
    const ws1 = await connect('websocket')
    await connect('websocket')
    await connect('long_poll')
    const gauge = async (transport: string) =>
      sampleValue(await scrape(), 'openace_agent_connections', { transport })
    expect(await gauge('websocket')).toBe(2)
    await waitUntil(async () => (await gauge('long_poll')) === 1, {
      what: 'the long-poll agent to be polling',
    })

    await queueCommand(server.ctx, ws1.machineId, { type: 'fs.list', request_id: 'm1', path: '/' })
    await ws1.agent.waitForCommand('fs.list')
    const samples = await scrape()
    expect(sampleValue(samples, 'openace_agent_commands_queued_total')).toBe(1)
    expect(sampleValue(samples, 'openace_agent_command_delivery_seconds_count')).toBe(1)
    expect(sampleValue(samples, 'openace_agent_command_delivery_seconds_bucket', { le: '+Inf' })).toBe(1)

    await ws1.agent.close()
    await waitUntil(async () => (await gauge('websocket')) === 1, {
      what: 'the closed socket to leave the gauge',
    })
  })

  test('SSE subscribers count open session streams', async () => {
    const sessionId = await insertLiveSession(server, 1)
    const subscribers = async () => sampleValue(await scrape(), 'openace_sse_subscribers')
    expect(await subscribers()).toBe(0)
    const abort = new AbortController()
    const res = await fetch(`${server.url}/api/remote/sessions/${sessionId}/stream`, {
      headers: { cookie: admin },
      signal: abort.signal,
    })
    expect(res.status).toBe(200)
    const reader = res.body!.getReader()
    await reader.read()
    await waitUntil(async () => (await subscribers()) === 1, { what: 'the stream to be counted' })
    abort.abort()
    await reader.cancel().catch(() => {})
    await waitUntil(async () => (await subscribers()) === 0, { what: 'the closed stream to be uncounted' })
  })
})
