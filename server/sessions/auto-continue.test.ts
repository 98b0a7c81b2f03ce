// A session stopped by its quota, set to continue by itself, is continued by the server's sweep
// when the quota resets (the context clock moved past the refusal's resets_at): once, through
// the same continue a person uses, resuming the CLI's conversation. Setting it is refused for a
// session its quota did not stop; a continue refused at the reset is told to the session.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import { proxyChat, storeFakeUpstreamKeys } from '../../test/support/llm-proxy.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { continueAtQuotaReset } from './auto-continue.ts'

let server: TestServer
let fake: FakeLlm
let admin: string
let machineId: string
let agent: FakeAgent

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
type Json = Record<string, any>
let client: ReturnType<typeof testClient>
const view = async (id: string, cookie: string) =>
  (await reply(client.api.remote.sessions({ id }).get(withCookie(cookie)))).body.session as Json
const starts = (id: string) =>
  agent.commands.filter((c) => c.type === 'session.start' && c.session_id === id) as Array<
    CommandOf<'session.start'>
  >

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  client = testClient(server.app, server.url)
  fake = await startFakeLlm({ usage: { input: 30, output: 20 } })
  admin = await server.login()
  await storeFakeUpstreamKeys(server, admin, fake, [
    { provider: 'openai', key_name: 'upstream', api_key: 'sk-real-auto-continue-1234' },
  ])
  const reg = await registerMachine(server.request, admin, { name: 'quota-box' })
  machineId = reg.machineId
  agent = await FakeAgent.connectTo(server.url, reg, {
    capabilities: { ...FAKE_CAPABILITIES, max_sessions: 20, session_continue: true },
  })
})
afterAll(async () => {
  await agent?.close()
  await fake?.close()
  await server.stop()
})

/** A user over a daily limit of 1 token, with a running session that the proxy refused. */
async function overQuota(name: string) {
  const user = await createUser(server, admin, name)
  await reply(
    client.api.remote.machines({ id: machineId }).assign.post(
      {
        user_id: user.id,
        permission: 'user',
      },
      withCookie(admin),
    ),
  )
  expect(
    (await reply(client.api.quotas.users({ id: user.id }).put({ daily_token_limit: 1 }, withCookie(admin))))
      .status,
  ).toBe(200)
  const created = await reply(
    client.api.remote.sessions.post(
      {
        machine_id: machineId,
        project_path: '/work/app',
      },
      withCookie(user.cookie),
    ),
  )
  expect(created.status).toBe(201)
  const id = created.body.session.session_id as string
  const start = await waitUntil(() => starts(id)[0], { what: 'session.start', timeoutMs: 5000 })
  await agent.send({ type: 'session.started', session_id: id })
  await agent.reportEvent(
    id,
    0,
    { kind: 'result', text: 'ok', cli_session_id: `conv-${name}` },
    '{"type":"result"}',
  )
  const proxied = () => proxyChat(server, start.proxy_token, { model: 'm', messages: [], max_tokens: 10 })
  const first = await proxied()
  expect(first.status).toBe(200)
  await first.text()
  expect((await proxied()).status).toBe(429)
  const alert = await waitUntil(
    async () => {
      const s = await view(id, user.cookie)
      return s.alert?.code === 'quota_exceeded' && s.status === 'active' ? s.alert : undefined
    },
    { what: 'the quota alert' },
  )
  return { user, id, alert: alert as { resets_at: string } }
}

/** The server's sweep as it runs a second past the quota's reset (the context clock moved, then put back). */
async function sweepAfterReset(alert: { resets_at: string }) {
  const realNow = server.ctx.now
  server.ctx.now = () => new Date(Date.parse(alert.resets_at) + 1000)
  try {
    return await continueAtQuotaReset(server.ctx)
  } finally {
    server.ctx.now = realNow
  }
}

describe('continue by itself when the quota resets', () => {
  test('set on a session stopped by its quota, it continues once at the reset, resuming its conversation', async () => {
    const { user, id, alert } = await overQuota('ava')
    // Still running: not stopped by its quota (yet).
    const early = await reply(
      client.api.remote.sessions({ id })['auto-continue'].put(
        {
          enabled: true,
        },
        withCookie(user.cookie),
      ),
    )
    expect(early.status).toBe(409)
    expect(early.body.error.type).toBe('not_stopped_by_quota')
    expect(
      (await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(user.cookie)))).status,
    ).toBe(200)
    const set = await reply(
      client.api.remote.sessions({ id })['auto-continue'].put({ enabled: true }, withCookie(user.cookie)),
    )
    expect(set.status).toBe(200)
    expect(set.body.session.auto_continue).toBe(true)
    // Not before the reset.
    expect(await continueAtQuotaReset(server.ctx)).toEqual([])
    expect((await view(id, user.cookie)).status).toBe('stopped')

    expect(await sweepAfterReset(alert)).toEqual([id])
    expect(await sweepAfterReset(alert)).toEqual([])
    const again = await waitUntil(() => starts(id)[1], {
      what: 'the continuing session.start',
      timeoutMs: 5000,
    })
    expect(again.resume_cli_session_id).toBe('conv-ava')
    expect(again.next_seq).toBe(1)
    expect(starts(id)).toHaveLength(2)
    const continued = await view(id, user.cookie)
    expect(continued.status).toBe('starting')
    expect(continued.auto_continue).toBe(false)
    expect(continued.alert).toBeNull()
  })

  test('turned off, nothing happens at the reset; a session its quota did not stop cannot be set', async () => {
    const { user, id, alert } = await overQuota('bo')
    await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(user.cookie)))
    await reply(
      client.api.remote.sessions({ id })['auto-continue'].put({ enabled: true }, withCookie(user.cookie)),
    )
    const off = await reply(
      client.api.remote.sessions({ id })['auto-continue'].put({ enabled: false }, withCookie(user.cookie)),
    )
    expect(off.body.session.auto_continue).toBe(false)
    expect(await sweepAfterReset(alert)).toEqual([])
    expect(starts(id)).toHaveLength(1)

    const plain = await reply(
      client.api.remote.sessions.post(
        {
          machine_id: machineId,
          project_path: '/w',
        },
        withCookie(user.cookie),
      ),
    )
    const plainId = plain.body.session.session_id as string
    await reply(client.api.remote.sessions({ id: plainId }).stop.post(undefined, withCookie(user.cookie)))
    const refused = await reply(
      client.api.remote.sessions({ id: plainId })['auto-continue'].put(
        {
          enabled: true,
        },
        withCookie(user.cookie),
      ),
    )
    expect(refused.status).toBe(409)
    expect(refused.body.error.type).toBe('not_stopped_by_quota')
  })

  test('a continue refused at the reset (the owner lost the machine) is told to the session', async () => {
    const { user, id, alert } = await overQuota('cy')
    await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(user.cookie)))
    expect(
      (
        await reply(
          client.api.remote.sessions({ id })['auto-continue'].put({ enabled: true }, withCookie(user.cookie)),
        )
      ).status,
    ).toBe(200)
    await reply(
      client.api.remote
        .machines({ id: machineId })
        .assign({ user_id: user.id })
        .delete(undefined, withCookie(admin)),
    )
    expect(await sweepAfterReset(alert)).toEqual([])
    const s = await view(id, user.cookie)
    expect(s.status).toBe('stopped')
    expect(s.auto_continue).toBe(false)
    expect(s.alert).toMatchObject({ code: 'auto_continue_failed', level: 'error' })
    expect(s.alert.message).toContain("may no longer use machine 'quota-box'")
  })
})
