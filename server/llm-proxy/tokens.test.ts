// Proxy tokens: only genuine, unexpired, unrevoked tokens of live sessions get through (401 for
// the rest, in the provider's error shape), and refresh keeps a long session going.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import {
  proxyChat,
  proxyMessages,
  proxyTokenFor,
  storeFakeUpstreamKeys,
} from '../../test/support/llm-proxy.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { proxyTokens, sessions } from '../db/schema/index.ts'
import { createLogger } from '../log.ts'
import { prepareServer } from '../start.ts'
import {
  issueProxyToken,
  refreshProxyToken,
  revokeProxyTokens,
  TOKEN_PREFIX,
  verifyProxyToken,
} from './tokens.ts'

let server: TestServer
let fake: FakeLlm
/** Longer than the verified-token cache, so a change in the database is seen. */
const CACHE_EXPIRY_WAIT_MS = 1100
/** Time for a new instance's LISTEN to be in place before the NOTIFY it must see. */
const LISTEN_SETTLE_MS = 200

function proxyCall(token: string, style: 'bearer' | 'x-api-key' = 'bearer') {
  const body = { model: 'm', max_tokens: 5, messages: [] }
  return style === 'x-api-key' ? proxyMessages(server, token, body) : proxyChat(server, token, body)
}

beforeAll(async () => {
  server = await startTestServer()
  fake = await startFakeLlm()
  const admin = await server.login()
  await storeFakeUpstreamKeys(server, admin, fake, [
    { provider: 'openai', key_name: 'production', api_key: 'sk-real-1234567890' },
    { provider: 'anthropic', key_name: 'main', api_key: 'sk-ant-real-1234567890' },
  ])
})

afterAll(async () => {
  await fake.close()
  await server.stop()
})

describe('proxy tokens', () => {
  test('a genuine token of a live session works; its claims round-trip', async () => {
    const issued = await proxyTokenFor(server, 1, { provider: 'openai', machineId: 'machine-a' })
    expect(issued.token.startsWith(TOKEN_PREFIX)).toBe(true)
    expect(Date.parse(issued.expires_at) - Date.now()).toBeGreaterThan(4 * 3600 * 1000 - 60_000)
    expect((await proxyCall(issued.token)).status).toBe(200)
    const claims = await verifyProxyToken(server.ctx, issued.token)
    expect(claims).toMatchObject({
      sessionId: issued.sessionId,
      userId: 1,
      machineId: 'machine-a',
      provider: 'openai',
    })
  })

  test('missing, garbage and forged tokens get 401 in the provider error shape', async () => {
    const { token } = await proxyTokenFor(server, 1)
    const [body, mac] = token.slice(TOKEN_PREFIX.length).split('.') as [string, string]
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString())
    const forgedBody = Buffer.from(JSON.stringify({ ...claims, userId: 999 })).toString('base64url')
    const flipped = `${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`
    for (const bad of [
      '',
      'sk-nonsense',
      `${TOKEN_PREFIX}${forgedBody}.${mac}`,
      `${TOKEN_PREFIX}${body}.${flipped}`,
    ]) {
      const res = await proxyCall(bad)
      expect(res.status).toBe(401)
      expect(((await res.json()) as { error: { type: string } }).error.type).toBe('authentication_error')
    }
    const anthropic = await proxyCall('sk-nonsense', 'x-api-key')
    expect(anthropic.status).toBe(401)
    expect(await anthropic.json()).toMatchObject({ type: 'error', error: { type: 'authentication_error' } })
    expect(fake.requests.some((r) => r.key === 'sk-nonsense')).toBe(false)
  })

  test('an expired token gets 401', async () => {
    const { token } = await proxyTokenFor(server, 1)
    const realNow = server.ctx.now
    server.ctx.now = () => new Date(Date.now() + 5 * 3600 * 1000)
    try {
      expect((await proxyCall(token)).status).toBe(401)
    } finally {
      server.ctx.now = realNow
    }
  })

  test('revoked tokens (by session or by machine) get 401 at once', async () => {
    const bySession = await proxyTokenFor(server, 1, { machineId: 'machine-r' })
    const byMachine = await proxyTokenFor(server, 1, { machineId: 'machine-r' })
    expect((await proxyCall(bySession.token)).status).toBe(200)
    expect(await revokeProxyTokens(server.ctx, { sessionId: bySession.sessionId })).toBe(1)
    expect((await proxyCall(bySession.token)).status).toBe(401)
    expect((await proxyCall(byMachine.token)).status).toBe(200)
    expect(await revokeProxyTokens(server.ctx, { machineId: 'machine-r' })).toBe(1)
    expect((await proxyCall(byMachine.token)).status).toBe(401)
  })

  test('a token whose session has ended, or belongs to no session, gets 401', async () => {
    const { token, sessionId } = await proxyTokenFor(server, 1)
    expect((await proxyCall(token)).status).toBe(200)
    await server.ctx.db.update(sessions).set({ status: 'stopped' }).where(eq(sessions.id, sessionId))
    await Bun.sleep(CACHE_EXPIRY_WAIT_MS)
    expect((await proxyCall(token)).status).toBe(401)

    const other = await proxyTokenFor(server, 1)
    await server.ctx.db.delete(proxyTokens).where(eq(proxyTokens.sessionId, other.sessionId))
    await Bun.sleep(CACHE_EXPIRY_WAIT_MS)
    expect((await proxyCall(other.token)).status).toBe(401)
  })

  test('a token is bound to its session: revoking another session leaves it working', async () => {
    const mine = await proxyTokenFor(server, 1)
    const theirs = await proxyTokenFor(server, 1)
    await revokeProxyTokens(server.ctx, { sessionId: theirs.sessionId })
    expect((await proxyCall(mine.token)).status).toBe(200)
    expect((await proxyCall(theirs.token)).status).toBe(401)
  })

  test('refresh issues a new working token while the session lives, and refuses once it ended', async () => {
    const { sessionId } = await proxyTokenFor(server, 1, { provider: 'openai', machineId: 'machine-f' })
    const fresh = await refreshProxyToken(server.ctx, sessionId)
    expect((await proxyCall(fresh.token)).status).toBe(200)
    expect(await verifyProxyToken(server.ctx, fresh.token)).toMatchObject({
      sessionId,
      machineId: 'machine-f',
      provider: 'openai',
    })
    await server.ctx.db.update(sessions).set({ status: 'error' }).where(eq(sessions.id, sessionId))
    await expect(refreshProxyToken(server.ctx, sessionId)).rejects.toMatchObject({ status: 409 })
  })

  test('a revocation on one instance reaches another sharing the database before its cache expires', async () => {
    const other = await prepareServer(server.ctx.config, {
      database: server.database,
      log: createLogger('error'),
    })
    try {
      const { token, sessionId } = await proxyTokenFor(server, 1)
      expect(await verifyProxyToken(other.ctx, token)).not.toBeNull()
      await Bun.sleep(LISTEN_SETTLE_MS)
      const revokedAt = Date.now()
      await revokeProxyTokens(server.ctx, { sessionId })
      await waitUntil(async () => (await verifyProxyToken(other.ctx, token)) === null, {
        what: 'the other instance refusing the revoked token',
        timeoutMs: 2000,
      })
      expect(Date.now() - revokedAt).toBeLessThan(CACHE_EXPIRY_WAIT_MS - 300)
    } finally {
      await other.ctx.close()
    }
  })

  test('issuing for a session that does not exist fails', async () => {
    await expect(
      issueProxyToken(server.ctx, {
        sessionId: crypto.randomUUID(),
        userId: 1,
        machineId: null,
        tenantId: 1,
      }),
    ).rejects.toBeDefined()
  })
})
