// Proxy token renewal: live sessions get fresh tokens over the channel, ended ones do not.
import { describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, withCookie } from '../../test/support/client.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { verifyProxyToken } from '../llm-proxy/tokens.ts'
import {
  agent,
  client,
  newSession,
  owner,
  server,
  startedSession,
  useSessionWorld,
} from './session-test-world.ts'

useSessionWorld()

describe('proxy token renewal', () => {
  test('a live session whose token nears expiry gets a fresh one over the channel; ended ones do not', async () => {
    const { renewExpiringTokens } = await import('./token-renewal.ts')
    const { proxyTokens } = await import('../db/schema/index.ts')
    const { eq } = await import('drizzle-orm')
    const live = await startedSession()
    const ended = await newSession()
    await reply(client.api.remote.sessions({ id: ended.id }).stop.post(undefined, withCookie(owner.cookie)))
    const soon = new Date(Date.now() + 60_000)
    for (const id of [live.id, ended.id])
      await server.ctx.db.update(proxyTokens).set({ expiresAt: soon }).where(eq(proxyTokens.sessionId, id))
    await renewExpiringTokens(server.ctx)
    const refresh = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'token.refresh' && c.session_id === live.id),
      { what: 'token.refresh', timeoutMs: 5000 },
    )) as CommandOf<'token.refresh'>
    const claims = await verifyProxyToken(server.ctx, refresh.proxy_token)
    expect(claims?.sessionId).toBe(live.id)
    expect(new Date(refresh.expires_at).getTime()).toBeGreaterThan(soon.getTime())
    expect(agent.commands.some((c) => c.type === 'token.refresh' && c.session_id === ended.id)).toBe(false)
    // Renewed: a second sweep finds nothing to do for it.
    const before = agent.commands.filter((c) => c.type === 'token.refresh').length
    await renewExpiringTokens(server.ctx)
    await Bun.sleep(100)
    expect(agent.commands.filter((c) => c.type === 'token.refresh').length).toBe(before)
  })

  test('the token a running CLI started with outlives its expiry while the session is renewed, and dies with the session', async () => {
    const { renewExpiringTokens } = await import('./token-renewal.ts')
    const { id, start } = await startedSession()
    const realNow = server.ctx.now
    const hours = (h: number) => () => new Date(Date.now() + h * 3600_000)
    try {
      server.ctx.now = hours(3.5)
      await renewExpiringTokens(server.ctx)
      await waitUntil(() => agent.commands.find((c) => c.type === 'token.refresh' && c.session_id === id), {
        what: 'token.refresh',
        timeoutMs: 5000,
      })
      server.ctx.now = hours(5)
      const claims = await verifyProxyToken(server.ctx, start.proxy_token)
      expect(claims?.sessionId).toBe(id)
      server.ctx.now = hours(9)
      await Bun.sleep(1100) // past the verification cache
      expect(await verifyProxyToken(server.ctx, start.proxy_token)).toBeNull()
    } finally {
      server.ctx.now = realNow
    }
    const other = await startedSession()
    server.ctx.now = hours(3.5)
    try {
      await renewExpiringTokens(server.ctx)
      await reply(client.api.remote.sessions({ id: other.id }).stop.post(undefined, withCookie(owner.cookie)))
      server.ctx.now = hours(5)
      await Bun.sleep(1100)
      expect(await verifyProxyToken(server.ctx, other.start.proxy_token)).toBeNull()
    } finally {
      server.ctx.now = realNow
    }
  })
})
