// Quotas stop requests before the upstream sees them (429, provider shape, a sentence a person
// understands); admins set them; users read their own usage per day; CLI-reported usage is
// stored once per report id and never counted toward quota.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import {
  proxyChat,
  proxyMessages,
  proxyTokenFor,
  storeFakeUpstreamKeys,
} from '../../test/support/llm-proxy.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { hashToken } from '../auth/tokens.ts'
import {
  agentTokens,
  auditLog,
  quotaUsage,
  remoteMachines,
  sessions,
  usageReports,
} from '../db/schema/index.ts'
import { flushUsage } from './ledger.ts'
import { USAGE_REPORTS_PER_WINDOW } from './reports.ts'

let server: TestServer
let fake: FakeLlm
let admin: string

beforeAll(async () => {
  server = await startTestServer()
  fake = await startFakeLlm({ usage: { input: 30, output: 20 } })
  admin = await server.login()
  await storeFakeUpstreamKeys(server, admin, fake, [
    { provider: 'openai', key_name: 'production', api_key: 'sk-real-quota-1234' },
  ])
})

afterAll(async () => {
  await fake.close()
  await server.stop()
})

/** One chat call, read to the end as a client would (usage is counted when the stream ends). */
async function chat(token: string) {
  const res = await proxyChat(server, token)
  const text = await res.text()
  return { status: res.status, headers: res.headers, json: () => JSON.parse(text) }
}

const setQuota = (scope: 'users' | 'tenants', id: number, json: unknown, cookie = admin) =>
  server.request(`/api/quotas/${scope}/${id}`, { method: 'PUT', cookie, json })

describe('quota enforcement', () => {
  test('a daily request limit: the next request gets 429 before the upstream sees it', async () => {
    const user = await createUser(server, admin, 'requests-limited')
    expect((await setQuota('users', user.id, { daily_request_limit: 2 })).status).toBe(200)
    const { token } = await proxyTokenFor(server, user.id)
    expect((await chat(token)).status).toBe(200)
    expect((await chat(token)).status).toBe(200)
    const before = fake.requests.length
    const refused = await chat(token)
    expect(refused.status).toBe(429)
    expect(refused.headers.get('x-should-retry')).toBe('false')
    const body = (await refused.json()) as { error: { message: string; type: string } }
    expect(body.error.type).toBe('quota_exceeded')
    expect(body.error.message).toStartWith('Daily request quota reached: 2 of 2 requests made today')
    expect(fake.requests.length).toBe(before)
  })

  test('a token limit counts the tokens the provider reported; the tenant default applies to everyone else', async () => {
    const user = await createUser(server, admin, 'tokens-limited')
    expect((await setQuota('tenants', 1, { monthly_token_limit: 120 })).status).toBe(200)
    try {
      const { token } = await proxyTokenFor(server, user.id)
      expect((await chat(token)).status).toBe(200)
      expect((await chat(token)).status).toBe(200)
      expect((await chat(token)).status).toBe(200)
      const refused = await chat(token)
      expect(refused.status).toBe(429)
      expect(((await refused.json()) as { error: { message: string } }).error.message).toStartWith(
        'Monthly token quota reached: 150 of 120 tokens used this month',
      )
      expect((await setQuota('users', user.id, { monthly_token_limit: 1000 })).status).toBe(200)
      expect((await chat(token)).status).toBe(200)
    } finally {
      await server.request('/api/quotas/tenants/1', { method: 'DELETE', cookie: admin })
    }
  })

  test('an answer without usage fields is counted as a request and by an estimate, marked estimated', async () => {
    const { token, sessionId } = await proxyTokenFor(server, 1)
    fake.queue({ omitUsage: true, reply: 'x'.repeat(400) })
    const answer = await chat(token)
    expect(answer.status).toBe(200)
    expect(answer.json().usage).toBeUndefined()
    await flushUsage(server.ctx)
    const rows = await server.ctx.db.select().from(quotaUsage).where(eq(quotaUsage.sessionId, sessionId))
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({ requests: 1, estimated: true })
    // The input by the request's size, the output by the answer's (400 characters of reply).
    expect(rows[0]!.inputTokens).toBeGreaterThan(0)
    expect(rows[0]!.outputTokens).toBeGreaterThanOrEqual(100)
  })

  test('an Anthropic client gets the 429 in the Anthropic error shape', async () => {
    const user = await createUser(server, admin, 'anthropic-limited')
    await setQuota('users', user.id, { daily_token_limit: 0 })
    const { token } = await proxyTokenFor(server, user.id)
    const res = await proxyMessages(server, token, { model: 'c', max_tokens: 5, messages: [] })
    expect(res.status).toBe(429)
    expect(await res.json()).toMatchObject({ type: 'error', error: { type: 'quota_exceeded' } })
  })
})

describe('quota admin and usage API', () => {
  test('only system admins set quotas; bad values name the field; unknown subjects 404; changes audited', async () => {
    const user = await createUser(server, admin, 'not-an-admin')
    expect((await setQuota('users', user.id, { daily_token_limit: 5 }, user.cookie)).status).toBe(403)
    expect((await server.request('/api/quotas', { cookie: user.cookie })).status).toBe(403)
    const bad = await setQuota('users', user.id, { daily_token_limit: -1 })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { field: string } }).error.field).toBe('daily_token_limit')
    expect((await setQuota('users', 99_999, { daily_token_limit: 5 })).status).toBe(404)
    expect((await setQuota('users', user.id, { daily_token_limit: 5 })).status).toBe(200)
    const listed = (await (await server.request('/api/quotas', { cookie: admin })).json()) as {
      quotas: unknown[]
    }
    expect(listed.quotas).toContainEqual(
      expect.objectContaining({ scope: 'user', subject_id: user.id, daily_token_limit: 5 }),
    )
    const clear = () => server.request(`/api/quotas/users/${user.id}`, { method: 'DELETE', cookie: admin })
    expect((await clear()).status).toBe(200)
    expect((await clear()).status).toBe(404)
    const events = (await server.ctx.db.select().from(auditLog)).map((r) => r.event)
    expect(events).toContain('quota.set')
    expect(events).toContain('quota.clear')
  })

  test('GET /api/usage: own per-day totals; others only for admins', async () => {
    const user = await createUser(server, admin, 'usage-reader')
    const other = await createUser(server, admin, 'usage-other')
    const { token } = await proxyTokenFor(server, user.id)
    await chat(token)
    await chat(token)
    const own = await server.request('/api/usage', { cookie: user.cookie })
    expect(own.status).toBe(200)
    const report = (await own.json()) as {
      days: Array<Record<string, unknown>>
      totals: Record<string, number>
    }
    const today = new Date().toISOString().slice(0, 10)
    expect(report.days).toEqual([
      { date: today, input_tokens: 60, output_tokens: 40, total_tokens: 100, requests: 2 },
    ])
    expect((await server.request(`/api/usage?user_id=${user.id}`, { cookie: other.cookie })).status).toBe(403)
    const asAdmin = await server.request(`/api/usage?user_id=${user.id}&days=7`, { cookie: admin })
    expect(((await asAdmin.json()) as { totals: { requests: number } }).totals.requests).toBe(2)
    expect((await server.request('/api/usage')).status).toBe(401)
  })
})

describe('CLI-reported usage', () => {
  test('stored once per report id, only for the agent own sessions, not counted toward quota', async () => {
    const agentToken = 'agent-token-for-usage-reports'
    const machineId = crypto.randomUUID()
    const base = { tenantId: 1, hostname: 'h', osType: 'linux', osVersion: '6', agentVersion: '0' }
    await server.ctx.db.insert(remoteMachines).values({ machineId, name: 'm', ...base })
    await server.ctx.db.insert(agentTokens).values({ tokenHash: hashToken(agentToken), machineId })
    const [own] = await server.ctx.db
      .insert(sessions)
      .values({
        tenantId: 1,
        userId: 1,
        remoteMachineId: machineId,
        projectPath: '/p',
        cliTool: 'qwen-code',
        status: 'active',
      })
      .returning()
    const { sessionId: foreign } = await proxyTokenFor(server, 1)
    const report = (session_id: string, report_id: string, auth = agentToken) =>
      server.request('/api/remote/usage-report', {
        method: 'POST',
        headers: { authorization: `Bearer ${auth}` },
        json: { report_id, session_id, model: 'qwen', usage: { input_tokens: 7, output_tokens: 3 } },
      })
    const first = await report(own!.id, 'r-1')
    expect(await first.json()).toEqual({ ok: true, duplicate: false })
    expect(await (await report(own!.id, 'r-1')).json()).toEqual({ ok: true, duplicate: true })
    expect((await report(foreign, 'r-2')).status).toBe(404)
    expect((await report(own!.id, 'r-3', 'wrong-token')).status).toBe(401)
    expect(await server.ctx.db.select().from(usageReports)).toHaveLength(1)
    const usage = (await (await server.request('/api/usage', { cookie: admin })).json()) as {
      quota: { today_tokens: number }
    }
    const ledgerOnly = usage.quota.today_tokens
    await report(own!.id, 'r-4')
    const again = (await (await server.request('/api/usage', { cookie: admin })).json()) as {
      quota: { today_tokens: number }
    }
    expect(again.quota.today_tokens).toBe(ledgerOnly)
    let limited: Response | undefined
    for (let i = 0; i < USAGE_REPORTS_PER_WINDOW; i++) {
      limited = await report(own!.id, `flood-${i}`)
      if (limited.status === 429) break
    }
    expect(limited?.status).toBe(429)
  })
})
