// Quota and provider problems reach the session: a refused proxy call puts an alert into its stream.
import { describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, withCookie } from '../../test/support/client.ts'
import { proxyChat } from '../../test/support/llm-proxy.ts'
import { createUser } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessions } from '../db/schema/index.ts'
import { flushUsage, recordUsage } from '../quota/ledger.ts'
import { admin, agent, client, endAll, machineId, server, useReasonsWorld } from './reasons-test-world.ts'

useReasonsWorld()

describe('quota and provider problems reach the session', () => {
  test('a refused proxy call puts an alert into the session stream at once', async () => {
    // A user of their own, so no other test's usage counts against the limit.
    const user = await createUser(server, admin, 'quota-quinn')
    await reply(
      client.api.remote.machines({ id: machineId }).assign.post(
        {
          user_id: user.id,
          permission: 'user',
        },
        withCookie(admin),
      ),
    )
    await endAll()
    const made = await reply(
      client.api.remote.sessions.post(
        {
          machine_id: machineId,
          project_path: '/srv/work/app',
        },
        withCookie(user.cookie),
      ),
    )
    const id = made.body.session.session_id as string
    const start = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'session.start' && c.session_id === id),
      { what: 'session.start', timeoutMs: 5000 },
    )) as CommandOf<'session.start'>
    const quota = await server.request(`/api/quotas/users/${user.id}`, {
      method: 'PUT',
      cookie: admin,
      json: { daily_token_limit: 1000 },
    })
    expect(quota.status).toBe(200)
    const use = async (tokens: number) => {
      recordUsage(server.ctx, {
        ts: new Date(),
        userId: user.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        model: 'm',
        apiKeyId: null,
        inputTokens: tokens,
        outputTokens: 0,
        requests: 1,
        latencyMs: 1,
        status: 200,
      })
      await flushUsage(server.ctx)
      await Bun.sleep(2100) // the quota's cached totals are re-read after 2 s
    }
    const proxyCall = () => proxyChat(server, start.proxy_token)
    const stream = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: user.cookie })
    const reader = stream.body!.getReader()
    const decoder = new TextDecoder()
    let seen = ''
    const nextAlert = async (code: string) => {
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        const match = new RegExp(`event: alert\\ndata: (\\{[^\\n]*"code":"${code}"[^\\n]*\\})`).exec(seen)
        if (match) return JSON.parse(match[1]!)
        const { value } = await reader.read()
        seen += decoder.decode(value)
      }
      throw new Error(`no ${code} alert in: ${seen}`)
    }
    await use(1000)
    const refused = await proxyCall()
    expect(refused.status).toBe(429)
    const alert = await nextAlert('quota_exceeded')
    expect(alert).toMatchObject({ level: 'error' })
    expect(alert.message).toContain('Daily token quota reached: 1,000 of 1,000')
    const view = (await reply(client.api.remote.sessions({ id }).get(withCookie(user.cookie)))).body.session
    expect(view.alert.code).toBe('quota_exceeded')
    await reader.cancel()
    await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(user.cookie)))
  }, 20_000)
})
