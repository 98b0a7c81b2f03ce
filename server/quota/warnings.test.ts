// The 80% warning through the real proxy: the call that passes 80% of a limit puts a 'warning'
// alert into its session, once per limit and period (a later call, another session of the same
// user: no repeat; the next day: again), and the refusal at the limit follows as an error.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import { proxyChat, proxyTokenFor, storeFakeUpstreamKeys } from '../../test/support/llm-proxy.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { quotaWarnings, type SessionAlert, sessions } from '../db/schema/index.ts'
import { subscribeSessionEvents } from '../sessions/events.ts'

let server: TestServer
let fake: FakeLlm
let admin: string
const PER_CALL = { input: 30, output: 20 }

beforeAll(async () => {
  server = await startTestServer()
  fake = await startFakeLlm({ usage: PER_CALL })
  admin = await server.login()
  await storeFakeUpstreamKeys(server, admin, fake, [
    { provider: 'openai', key_name: 'production', api_key: 'sk-real-warning-1234' },
  ])
})
afterAll(async () => {
  await fake.close()
  await server.stop()
})

async function chat(token: string) {
  const res = await proxyChat(server, token, { model: 'm', messages: [], max_tokens: 50 })
  await res.text()
  return res.status
}

/** A session of the user with a proxy token, and every alert its stream carries. */
async function watched(userId: number) {
  const { sessionId, token } = await proxyTokenFor(server, userId)
  const alerts: SessionAlert[] = []
  const stop = await subscribeSessionEvents(server.ctx, sessionId, (e) => {
    if (e.type === 'alert') alerts.push(e.alert)
  })
  return { sessionId, token, alerts, stop }
}

async function calls(token: string, n: number) {
  for (let i = 0; i < n; i++) expect(await chat(token)).toBe(200)
}

describe('the 80% quota warning', () => {
  test('once per limit and period, in the session whose call passed the mark; the refusal follows', async () => {
    const user = await createUser(server, admin, 'warned-wendy')
    const put = await server.request(`/api/quotas/users/${user.id}`, {
      method: 'PUT',
      cookie: admin,
      json: { daily_token_limit: 500, daily_request_limit: 12 },
    })
    expect(put.status).toBe(200)
    const s = await watched(user.id)
    // 8 calls of 50 tokens: the 8th reaches 400 of 500 (80%).
    await calls(s.token, 8)
    const first = await waitUntil(() => s.alerts.find((a) => a.code === 'quota_warning'), {
      what: 'the token warning',
    })
    expect(first.level).toBe('warning')
    expect(first.message).toBe(
      `80% of your daily token quota is used: 400 of 500 tokens used today; it resets at ${first.resets_at}.`,
    )
    expect(new Date(first.resets_at!).getUTCHours()).toBe(0)
    // Two more: the 10th is 10 of 12 requests (83%); tokens warn no more.
    await calls(s.token, 2)
    const second = await waitUntil(
      () => s.alerts.find((a) => a.code === 'quota_warning' && a.message.includes('request quota')),
      { what: 'the request warning' },
    )
    expect(second.message).toStartWith(
      '83% of your daily request quota is used: 10 of 12 requests made today',
    )
    expect(s.alerts.filter((a) => a.code === 'quota_warning')).toHaveLength(2)
    // The session keeps the latest warning as its alert (the banner's).
    const [row] = await server.ctx.db.select().from(sessions).where(eq(sessions.id, s.sessionId))
    expect(row!.alert).toMatchObject({ code: 'quota_warning', level: 'warning', message: second.message })
    // At the limit: refused, as an error alert.
    expect(await chat(s.token)).toBe(429)
    await waitUntil(() => s.alerts.find((a) => a.code === 'quota_exceeded'), { what: 'the refusal' })
    expect(s.alerts.map((a) => a.level)).toEqual(['warning', 'warning', 'error'])
    s.stop()
    const given = await server.ctx.db.select().from(quotaWarnings).where(eq(quotaWarnings.userId, user.id))
    expect(given.map((g) => g.limit).sort()).toEqual(['requests', 'tokens'])
    expect(given.every((g) => g.sessionId === s.sessionId)).toBe(true)
  })

  test('another session of the same user is not warned again; the next day warns anew', async () => {
    const user = await createUser(server, admin, 'warned-walt')
    await server.request(`/api/quotas/users/${user.id}`, {
      method: 'PUT',
      cookie: admin,
      json: { daily_token_limit: 500 },
    })
    const a = await watched(user.id)
    await calls(a.token, 8)
    await waitUntil(() => a.alerts.find((x) => x.code === 'quota_warning'), { what: 'the first warning' })
    const b = await watched(user.id)
    // b's calls are past the mark too, but today's warning was given: b hears only the refusal
    // at the limit (its alerts arrive in order, so the refusal shows its calls were checked).
    await calls(b.token, 2)
    expect(await chat(b.token)).toBe(429)
    await waitUntil(() => b.alerts.find((x) => x.code === 'quota_exceeded'), { what: "b's refusal" })
    expect(b.alerts.map((x) => x.code)).toEqual(['quota_exceeded'])

    const realNow = server.ctx.now
    try {
      server.ctx.now = () => new Date(Date.now() + 86_400_000)
      const c = await watched(user.id)
      await calls(c.token, 8)
      const fresh = await waitUntil(() => c.alerts.find((x) => x.code === 'quota_warning'), {
        what: "the next day's warning",
      })
      expect(fresh.message).toContain('400 of 500 tokens used today')
      expect(new Date(fresh.resets_at!).getTime()).toBeGreaterThan(
        new Date(a.alerts[0]!.resets_at!).getTime(),
      )
      c.stop()
    } finally {
      server.ctx.now = realNow
    }
    a.stop()
    b.stop()
  })
})
