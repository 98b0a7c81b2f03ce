// Query values are checked against what really exists (a bogus session status is a 400, not
// an empty 200), a query parameter no route takes is a 400 naming it (not silently dropped),
// and expired login sessions are purged on a schedule.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
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

  test('a bad integer names its parameter and says what it takes, in range or not a number', async () => {
    const machine = '/api/remote/machines/00000000-0000-4000-8000-000000000000'
    for (const [query, field] of [
      ['limit=abc', 'limit'],
      ['limit=0', 'limit'],
      ['limit=201', 'limit'],
      ['status=live&limit=1.5', 'limit'],
      ['cursor=x&limit=0', 'limit'],
    ] as const) {
      const res = await server.request(`${machine}/sessions?${query}`, { cookie: admin })
      expect(res.status).toBe(400)
      const { error } = (await res.json()) as { error: { field: string; message: string; type: string } }
      expect(error).toMatchObject({ field, type: 'validation_error' })
      expect(error.message).toBe('Invalid limit: must be a whole number from 1 to 200')
    }
    const lines = await server.request(`${machine}/log?lines=0`, { cookie: admin })
    expect(lines.status).toBe(400)
    expect(((await lines.json()) as { error: { field: string } }).error.field).toBe('lines')
  })
})

const concrete = (path: string) =>
  path.replace(/:id|:sessionId/g, '00000000-0000-4000-8000-000000000000').replace(/:[A-Za-z_]+/g, '1')

describe('unknown query parameters', () => {
  test('a misspelt parameter is a 400 naming it, not a 200 that ignored it', async () => {
    const res = await server.request('/api/remote/sessions?stauts=active', { cookie: admin })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { field: string; message: string; type: string } }
    expect(body.error).toMatchObject({ field: 'stauts', type: 'validation_error' })
    expect(body.error.message).toContain("'status'")
    expect((await server.request('/api/remote/sessions?status=active', { cookie: admin })).status).toBe(200)
  })

  test('a route that takes no query refuses any', async () => {
    const res = await server.request('/api/auth/me?x=1', { cookie: admin })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { field: string } }).error.field).toBe('x')
    expect((await server.request('/api/auth/me', { cookie: admin })).status).toBe(200)
  })

  test('without credentials the answer is still 401 first', async () => {
    expect((await server.request('/api/remote/sessions?stauts=active')).status).toBe(401)
  })

  test('every GET route of the API refuses a parameter it does not take', async () => {
    const accepted: string[] = []
    let refused = 0
    for (const route of server.app.routes) {
      if (route.method !== 'GET' || !route.path.startsWith('/api/')) continue
      if (route.path.startsWith('/api/remote/llm-proxy')) continue
      // Takes whatever the identity provider sends back (its schema is open, tested below).
      if (route.path === '/api/auth/oidc/callback') continue
      const res = await server.request(`${concrete(route.path)}?not_a_parameter=1`, { cookie: admin })
      // 401: agent-only routes, which a user cookie does not authenticate.
      if (res.status === 400) refused++
      else if (res.status !== 401) accepted.push(`${route.path} -> ${res.status}`)
      await res.body?.cancel()
    }
    expect(accepted).toEqual([])
    expect(refused).toBeGreaterThan(20)
  })
})

describe('an open query schema', () => {
  test('takes any parameter (the OpenID Connect callback: the provider names them)', async () => {
    // Not configured here: past the query check, the route itself answers 404.
    const res = await server.request('/api/auth/oidc/callback?code=x&session_state=y&hd=example.com')
    expect(res.status).toBe(404)
    const login = await server.request('/api/auth/oidc/login?not_a_parameter=1')
    expect(login.status).toBe(400)
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
    await waitUntil(
      async () =>
        (await server.ctx.db.select().from(authSessions).where(eq(authSessions.tokenHash, tokenHash)))
          .length === 0,
      { what: 'the expired login purged', timeoutMs: 10_000 },
    )
    // The live session is kept.
    expect((await server.request('/api/auth/me', { cookie: admin })).status).toBe(200)
  })
})
