// Query values are checked against what really exists (a bogus session status is a 400, not
// an empty 200), and expired login sessions are purged on a schedule.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { hashToken } from '../auth/tokens.ts'
import { authSessions } from '../db/schema/index.ts'

let server: TestServer
let admin: string

beforeAll(async () => {
  server = await startTestServer({ env: { AUTH_SESSION_PURGE_INTERVAL_SECONDS: '1' } })
  admin = await server.login()
})
afterAll(() => server.stop())

describe('query values', () => {
  test('status must be a real session state', async () => {
    const bogus = await server.request('/api/remote/sessions?status=bogus', { cookie: admin })
    expect(bogus.status).toBe(400)
    expect(((await bogus.json()) as { error: { field: string } }).error.field).toBe('status')
    for (const status of ['starting', 'active', 'paused', 'stopped', 'error']) {
      expect((await server.request(`/api/remote/sessions?status=${status}`, { cookie: admin })).status).toBe(
        200,
      )
    }
  })
})

describe('expired login sessions', () => {
  test('are deleted by the scheduled purge', async () => {
    const [user] = await server.ctx.db.select({ id: authSessions.userId }).from(authSessions).limit(1)
    const tokenHash = hashToken('an-expired-session')
    await server.ctx.db.insert(authSessions).values({
      tokenHash,
      userId: user!.id,
      createdAt: new Date(Date.now() - 10_000),
      expiresAt: new Date(Date.now() - 5_000),
      lastSeenAt: new Date(Date.now() - 10_000),
    })
    const deadline = Date.now() + 10_000
    let rows = 1
    while (rows > 0 && Date.now() < deadline) {
      await Bun.sleep(200)
      rows = (await server.ctx.db.select().from(authSessions).where(eq(authSessions.tokenHash, tokenHash)))
        .length
    }
    expect(rows).toBe(0)
    // The live session is kept.
    expect((await server.request('/api/auth/me', { cookie: admin })).status).toBe(200)
  })
})
