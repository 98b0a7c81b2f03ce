// Usage an admin can read: the proxy's ledger split per day, user, provider, model, key and
// machine, priced per model (input and output apart), each split summing to the total; a plain
// user sees only their own; the CSV export parses back to the same numbers; limits come along so
// an over-limit value can be shown as one. Usage is made by real proxied calls to the fake upstream.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { parse } from 'csv-parse/sync'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import {
  proxyChat,
  proxyMessages,
  proxyTokenFor,
  storeFakeUpstreamKeys,
} from '../../test/support/llm-proxy.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import type { UsageRow, usageBreakdown } from './breakdown.ts'

const OPENAI_KEY = 'sk-usage-openai-0001'
const ANTHROPIC_KEY = 'sk-ant-usage-0002'

let server: TestServer
let admin: string
let fake: FakeLlm
let alice: { id: number; cookie: string }
let bob: { id: number; cookie: string }

async function openaiCall(userId: number) {
  const { token } = await proxyTokenFor(server, userId, { provider: 'openai' })
  const res = await proxyChat(server, token, {
    model: 'gpt-test',
    messages: [{ role: 'user', content: 'hi' }],
  })
  expect(res.status).toBe(200)
  await res.text()
}

async function anthropicCall(userId: number) {
  const { token } = await proxyTokenFor(server, userId, { provider: 'anthropic' })
  const res = await proxyMessages(server, token, {
    model: 'claude-test',
    max_tokens: 16,
    messages: [{ role: 'user', content: 'hi' }],
  })
  expect(res.status).toBe(200)
  await res.text()
}

/** What the route answers: usageBreakdown's result, as JSON. */
type Breakdown = Awaited<ReturnType<typeof usageBreakdown>>

async function breakdown(query: string, cookie = admin) {
  const res = await server.request(`/api/usage/breakdown?${query}`, { cookie })
  return { status: res.status, body: (await res.json()) as Breakdown }
}

const sum = (rows: UsageRow[], f: keyof UsageRow) => rows.reduce((s, r) => s + Number(r[f] ?? 0), 0)

beforeAll(async () => {
  fake = await startFakeLlm({
    forKey: {
      [OPENAI_KEY]: { usage: { input: 100, output: 20 }, model: 'gpt-test' },
      [ANTHROPIC_KEY]: { usage: { input: 50, output: 10 }, model: 'claude-test' },
    },
  })
  server = await startTestServer()
  admin = await server.login()
  await storeFakeUpstreamKeys(server, admin, fake, [
    { provider: 'openai', key_name: 'oa-main', api_key: OPENAI_KEY },
    { provider: 'anthropic', key_name: 'an-main', api_key: ANTHROPIC_KEY },
  ])
  alice = await createUser(server, admin, 'alice-usage')
  bob = await createUser(server, admin, 'bob-usage')
  await openaiCall(alice.id)
  await openaiCall(alice.id)
  await anthropicCall(alice.id)
  await openaiCall(bob.id)
  const price = await server.request('/api/usage/prices', {
    method: 'PUT',
    cookie: admin,
    json: { provider: 'openai', model: 'gpt-test', input_per_million: 2, output_per_million: 8 },
  })
  expect(price.status).toBe(200)
})

afterAll(async () => {
  await server.stop()
  await fake.close()
})

describe('usage breakdown', () => {
  test('all users for an admin: every split sums to the total; names, not ids', async () => {
    const { status, body } = await breakdown('days=7')
    expect(status).toBe(200)
    expect(body.totals).toMatchObject({
      input_tokens: 350,
      output_tokens: 70,
      total_tokens: 420,
      requests: 4,
    })
    for (const split of [
      body.by_day,
      body.by_user,
      body.by_provider,
      body.by_model,
      body.by_key,
      body.by_machine,
    ]) {
      expect(sum(split, 'total_tokens')).toBe(420)
      expect(sum(split, 'requests')).toBe(4)
    }
    expect(body.by_provider.map((r) => [r.key, r.total_tokens])).toEqual([
      ['anthropic', 60],
      ['openai', 360],
    ])
    expect(body.by_user.map((r) => [r.label, r.total_tokens])).toEqual([
      ['alice-usage', 300],
      ['bob-usage', 120],
    ])
    expect(body.by_key.map((r) => [r.label, r.requests]).sort()).toEqual([
      ['an-main', 1],
      ['oa-main', 3],
    ])
  })

  test('cost: priced models by input and output price, the others counted apart', async () => {
    const { body } = await breakdown('days=7')
    // 3 OpenAI calls of 100 in at $2/M and 20 out at $8/M; the Anthropic model has no price.
    expect(body.totals.cost).toBeCloseTo((3 * (100 * 2 + 20 * 8)) / 1e6, 9)
    expect(body.totals.unpriced_tokens).toBe(60)
    const claude = body.by_model.find((r) => r.key === 'claude-test')!
    expect([claude.cost, claude.unpriced_tokens]).toEqual([null, 60])
  })

  test('filters narrow every split; a plain user sees only their own, never another user', async () => {
    const { body } = await breakdown(`days=7&user_id=${alice.id}&provider=openai`)
    expect(body.totals.total_tokens).toBe(240)
    expect(body.by_user.map((r) => r.label)).toEqual(['alice-usage'])
    const own = await breakdown('days=7', bob.cookie)
    expect(own.status).toBe(200)
    expect(own.body.totals.total_tokens).toBe(120)
    expect(own.body.by_user.map((r) => r.label)).toEqual(['bob-usage'])
    expect((await breakdown(`user_id=${alice.id}`, bob.cookie)).status).toBe(403)
  })

  test("a user's limits come along, so 300 / 100 can be shown as over", async () => {
    await server.request(`/api/quotas/users/${alice.id}`, {
      method: 'PUT',
      cookie: admin,
      json: { daily_token_limit: 100 },
    })
    const { body } = await breakdown(`days=7&user_id=${alice.id}`)
    expect(body.by_user[0]).toMatchObject({ today_tokens: 300, daily_token_limit: 100 })
    expect(body.by_day.at(-1)).toMatchObject({ total_tokens: 300, daily_token_limit: 100 })
  })

  test('the CSV export parses back to the same numbers, per the chosen split', async () => {
    const res = await server.request('/api/usage/export.csv?days=7&group_by=provider', { cookie: admin })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="usage-provider-\d{4}-\d{2}-\d{2}\.csv"$/,
    )
    const rows = parse(await res.text(), { bom: true, columns: true }) as Record<string, string>[]
    expect(rows.map((r) => [r.provider, Number(r.total_tokens), Number(r.requests)])).toEqual([
      ['anthropic', 60, 1],
      ['openai', 360, 3],
    ])
    const fine = await server.request('/api/usage/export.csv?days=7&group_by=day,user,provider,model,key', {
      cookie: admin,
    })
    const all = parse(await fine.text(), { bom: true, columns: true }) as Record<string, string>[]
    expect(all.reduce((s, r) => s + Number(r.total_tokens), 0)).toBe(420)
    expect(all.find((r) => r.user === 'bob-usage')).toMatchObject({
      key: 'oa-main',
      model: 'gpt-test',
      total_tokens: '120',
    })
    const own = await server.request('/api/usage/export.csv?days=7&group_by=user', { cookie: bob.cookie })
    expect((parse(await own.text(), { bom: true, columns: true }) as unknown[]).length).toBe(1)
    expect((await server.request('/api/usage/export.csv?group_by=nope', { cookie: admin })).status).toBe(400)
  })

  test('prices: everyone reads, only system admins set or remove', async () => {
    const list = (await (await server.request('/api/usage/prices', { cookie: bob.cookie })).json()) as {
      prices: Array<{ id: number; model: string; input_per_million: number }>
    }
    expect(list.prices.map((p) => [p.model, p.input_per_million])).toEqual([['gpt-test', 2]])
    const put = await server.request('/api/usage/prices', {
      method: 'PUT',
      cookie: bob.cookie,
      json: { provider: 'openai', model: 'x', input_per_million: 1, output_per_million: 1 },
    })
    expect(put.status).toBe(403)
    const negative = await server.request('/api/usage/prices', {
      method: 'PUT',
      cookie: admin,
      json: { provider: 'openai', model: 'x', input_per_million: -1, output_per_million: 1 },
    })
    expect(negative.status).toBe(400)
    expect(
      (
        await server.request(`/api/usage/prices/${list.prices[0]!.id}`, {
          method: 'DELETE',
          cookie: bob.cookie,
        })
      ).status,
    ).toBe(403)
  })
})
