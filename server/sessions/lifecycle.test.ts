// A session's life through the API: chat, output, pause/resume, abort, stop, and the counts it reports.
import { describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, withCookie } from '../../test/support/client.ts'
import { proxyChat } from '../../test/support/llm-proxy.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { quotaUsage } from '../db/schema/index.ts'
import { verifyProxyToken } from '../llm-proxy/tokens.ts'
import {
  admin,
  agent,
  client,
  type Json,
  machineId,
  newSession,
  output,
  owner,
  server,
  startedSession,
  useSessionWorld,
} from './session-test-world.ts'

useSessionWorld()

describe('a session lifecycle', () => {
  test('chat, output, pause/resume, abort, stop; impossible moves are 409', async () => {
    const { id, start } = await startedSession()
    const sent = await reply(
      client.api.remote.sessions({ id }).chat.post(
        {
          content: 'hello there',
        },
        withCookie(owner.cookie),
      ),
    )
    expect(sent.status).toBe(200)
    const input = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'session.input' && c.session_id === id),
      { what: 'session.input', timeoutMs: 5000 },
    )) as CommandOf<'session.input'>
    expect(input.content).toBe('hello there')
    expect(input.message_id).toBe(sent.body.message_id)

    await output(id, 0, 3)
    await output(id, 1, 3) // a resend overlapping what was stored: stored once
    const view = await waitUntil(
      async () => {
        const { session } = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie))))
          .body
        return session.output.length >= 4 && session
      },
      { what: 'four output lines' },
    )
    expect(view.output.map((o: Json) => o.seq)).toEqual([0, 1, 2, 3])
    expect(view.output[0]).toMatchObject({ data: 'line 0', stream: 'stdout' })
    expect(view.output[0].timestamp).toMatch(/Z$/)
    expect(view.messages).toEqual([expect.objectContaining({ content: 'hello there', role: 'user' })])
    const paged = (
      await reply(
        client.api.remote
          .sessions({ id })
          .get({ query: { output_after: 1, output_limit: 1 }, ...withCookie(owner.cookie) }),
      )
    ).body.session
    expect(paged.output.map((o: Json) => o.seq)).toEqual([2])
    expect(paged.output_has_more).toBe(true)

    expect(
      (await reply(client.api.remote.sessions({ id }).resume.post(undefined, withCookie(owner.cookie))))
        .status,
    ).toBe(409)
    expect(
      (await reply(client.api.remote.sessions({ id }).pause.post(undefined, withCookie(owner.cookie)))).body
        .status,
    ).toBe('paused')
    await waitUntil(() => agent.commands.find((c) => c.type === 'session.pause' && c.session_id === id), {
      what: 'pause',
      timeoutMs: 5000,
    })
    const whilePaused = await reply(
      client.api.remote.sessions({ id }).chat.post({ content: 'x' }, withCookie(owner.cookie)),
    )
    expect(whilePaused.status).toBe(409)
    expect(whilePaused.body.error.message).toMatch(/paused/)
    expect(
      (await reply(client.api.remote.sessions({ id }).resume.post(undefined, withCookie(owner.cookie)))).body
        .status,
    ).toBe('active')
    expect(
      (await reply(client.api.remote.sessions({ id }).abort.post(undefined, withCookie(owner.cookie)))).body
        .status,
    ).toBe('active')
    await waitUntil(() => agent.commands.find((c) => c.type === 'session.abort' && c.session_id === id), {
      what: 'abort',
      timeoutMs: 5000,
    })

    const stop = await reply(
      client.api.remote.sessions({ id }).stop.post(undefined, withCookie(owner.cookie)),
    )
    expect(stop.body.status).toBe('stopped')
    await waitUntil(() => agent.commands.find((c) => c.type === 'session.stop' && c.session_id === id), {
      what: 'stop',
      timeoutMs: 5000,
    })
    expect(await verifyProxyToken(server.ctx, start.proxy_token)).toBeNull()
    const proxied = await proxyChat(server, start.proxy_token, {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(proxied.status).toBe(401)
    const session = client.api.remote.sessions({ id })
    for (const action of ['chat', 'stop', 'pause', 'resume', 'abort'] as const) {
      const res = await reply(
        action === 'chat'
          ? session.chat.post({ content: 'late' }, withCookie(owner.cookie))
          : session[action].post(undefined, withCookie(owner.cookie)),
      )
      expect(res.status).toBe(409)
    }
    const audit = (
      await reply(
        client.api.audit.get({ query: { target_type: 'session', target_id: id }, ...withCookie(admin) }),
      )
    ).body.entries.map((e: Json) => e.event)
    for (const e of [
      'session.create',
      'session.chat',
      'session.pause',
      'session.resume',
      'session.abort',
      'session.stop',
    ])
      expect(audit).toContain(e)
  })

  test('total_tokens and message_count come from the proxy ledger', async () => {
    const { id } = await newSession()
    await server.ctx.db.insert(quotaUsage).values([
      {
        userId: owner.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        inputTokens: 100,
        outputTokens: 20,
        requests: 1,
        status: 200,
      },
      {
        userId: owner.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        inputTokens: 7,
        outputTokens: 3,
        requests: 1,
        status: 200,
      },
    ])
    const view = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
    expect(view.total_tokens).toBe(130)
    expect(view.message_count).toBe(2)
  })
})
