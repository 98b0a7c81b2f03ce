import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { auditLog, personalAccessTokens } from '../db/schema/index.ts'

let server: TestServer
let admin: string
let plain: { id: number; cookie: string }

beforeAll(async () => {
  server = await startTestServer({ env: { PAT_MAX_TTL_DAYS: '30' } })
  admin = await server.login()
  plain = await createUser(server, admin, 'patricia')
})
afterAll(() => server.stop())

type Json = Record<string, unknown> & { error?: { message: string; type: string; field?: string } }
interface Created {
  token: string
  personal_access_token: { id: number; scopes: string[]; token_prefix: string; last_used_at: string | null }
}

async function call(
  method: string,
  path: string,
  auth: { cookie?: string; bearer?: string },
  json?: unknown,
) {
  const headers: Record<string, string> = {}
  if (auth.bearer) headers.authorization = `Bearer ${auth.bearer}`
  const res = await server.request(path, { method, cookie: auth.cookie, json, headers })
  return { status: res.status, body: (await res.json()) as Json }
}

async function mint(cookie: string, scopes: string[], name = 'ci', days = 7): Promise<Created> {
  const res = await call('POST', '/api/tokens', { cookie }, { name, expires_in_days: days, scopes })
  expect(res.status).toBe(201)
  return res.body as unknown as Created
}

describe('personal access tokens', () => {
  test('shown once, stored hashed, prefixed oa_pat_, listed without the secret', async () => {
    const created = await mint(admin, ['read'])
    expect(created.token).toMatch(/^oa_pat_[A-Za-z0-9_-]{43}$/)
    expect(created.token.startsWith(created.personal_access_token.token_prefix)).toBe(true)
    const [row] = await server.ctx.db
      .select()
      .from(personalAccessTokens)
      .where(eq(personalAccessTokens.id, created.personal_access_token.id))
    expect(row!.tokenHash).toMatch(/^[0-9a-f]{64}$/)
    expect(JSON.stringify(row)).not.toContain(created.token)
    const list = await call('GET', '/api/tokens', { cookie: admin })
    expect(JSON.stringify(list.body)).not.toContain(created.token)
    expect((list.body.tokens as Array<{ id: number }>).map((t) => t.id)).toContain(
      created.personal_access_token.id,
    )
  })

  test('a read token lists but cannot change; its use is recorded as last used', async () => {
    const { token, personal_access_token } = await mint(admin, ['read'])
    const me = await call('GET', '/api/auth/me', { bearer: token })
    expect(me.status).toBe(200)
    expect((me.body.user as { username: string }).username).toBe('admin')
    expect((await call('GET', '/api/users', { bearer: token })).status).toBe(200)
    const change = await call(
      'POST',
      '/api/users',
      { bearer: token },
      { username: 'nope', password: 'long-enough' },
    )
    expect(change.status).toBe(403)
    expect(change.body.error!.type).toBe('insufficient_scope')
    const users = (await call('GET', '/api/users', { cookie: admin })).body.users as Array<{
      username: string
    }>
    expect(users.map((u) => u.username)).not.toContain('nope')
    const listed = (await call('GET', '/api/tokens', { cookie: admin })).body.tokens as Array<{
      id: number
      last_used_at: string | null
    }>
    expect(listed.find((t) => t.id === personal_access_token.id)!.last_used_at).not.toBeNull()
  })

  test('a sessions token may steer sessions but not administer; an admin token may', async () => {
    const sessions = await mint(admin, ['sessions'])
    const create = await call(
      'POST',
      '/api/remote/sessions',
      { bearer: sessions.token },
      { machine_id: 'no-such-machine', project_path: '/tmp' },
    )
    // Past the scope check: the refusal is about the machine, not the token.
    expect(create.body.error?.type).not.toBe('insufficient_scope')
    expect([404, 400]).toContain(create.status)
    const register = await call(
      'POST',
      '/api/remote/machines/register',
      { bearer: sessions.token },
      { tenant_id: 1 },
    )
    expect(register.status).toBe(403)
    const adminToken = await mint(admin, ['admin'])
    const ok = await call(
      'POST',
      '/api/remote/machines/register',
      { bearer: adminToken.token },
      { tenant_id: 1 },
    )
    expect(ok.status).toBe(200)
  })

  test('bearer calls skip the CSRF origin check; cookie calls from a foreign origin do not', async () => {
    const { token } = await mint(admin, ['admin'])
    const foreign = { origin: 'https://evil.example' }
    const byBearer = await server.request('/api/remote/machines/register', {
      method: 'POST',
      headers: { ...foreign, authorization: `Bearer ${token}` },
      json: { tenant_id: 1 },
    })
    expect(byBearer.status).toBe(200)
    const byCookie = await server.request('/api/remote/machines/register', {
      method: 'POST',
      headers: foreign,
      cookie: admin,
      json: { tenant_id: 1 },
    })
    expect(byCookie.status).toBe(403)
  })

  test('revoked, expired and unknown tokens are 401; an expired one stays 401', async () => {
    const { token, personal_access_token } = await mint(admin, ['read'])
    expect((await call('DELETE', `/api/tokens/${personal_access_token.id}`, { cookie: admin })).status).toBe(
      200,
    )
    const revoked = await call('GET', '/api/auth/me', { bearer: token })
    expect(revoked.status).toBe(401)
    expect(revoked.body.error!.message).toContain('revoked')

    const expiring = await mint(admin, ['read'], 'short', 1)
    const realNow = server.ctx.now
    server.ctx.now = () => new Date(realNow().getTime() + 86_400_000 + 1000)
    try {
      expect((await call('GET', '/api/auth/me', { bearer: expiring.token })).status).toBe(401)
    } finally {
      server.ctx.now = realNow
    }
    expect((await call('GET', '/api/auth/me', { bearer: 'oa_pat_not-a-real-token' })).status).toBe(401)
  })

  test("a disabled owner's token stops at once, and works again only when re-enabled", async () => {
    const user = await createUser(server, admin, 'dora')
    const { token } = await mint(user.cookie, ['read'])
    expect((await call('GET', '/api/auth/me', { bearer: token })).status).toBe(200)
    expect(
      (await call('PATCH', `/api/users/${user.id}`, { cookie: admin }, { status: 'disabled' })).status,
    ).toBe(200)
    expect((await call('GET', '/api/auth/me', { bearer: token })).status).toBe(401)
    expect(
      (await call('PATCH', `/api/users/${user.id}`, { cookie: admin }, { status: 'active' })).status,
    ).toBe(200)
    expect((await call('GET', '/api/auth/me', { bearer: token })).status).toBe(200)
  })

  test("a demoted owner's admin token loses the admin rights with them", async () => {
    const boss = await createUser(server, admin, 'bossy', 'system_admin')
    const { token } = await mint(boss.cookie, ['admin'])
    expect((await call('GET', '/api/users', { bearer: token })).status).toBe(200)
    expect((await call('PATCH', `/api/users/${boss.id}`, { cookie: admin }, { role: 'user' })).status).toBe(
      200,
    )
    expect((await call('GET', '/api/users', { bearer: token })).status).toBe(403)
  })

  test('never beyond the owner: no admin scope for plain users; expiry required and capped', async () => {
    const adminScope = await call(
      'POST',
      '/api/tokens',
      { cookie: plain.cookie },
      {
        name: 'x',
        expires_in_days: 1,
        scopes: ['admin'],
      },
    )
    expect(adminScope.status).toBe(403)
    const noExpiry = await call(
      'POST',
      '/api/tokens',
      { cookie: plain.cookie },
      { name: 'x', scopes: ['read'] },
    )
    expect(noExpiry.status).toBe(400)
    expect(noExpiry.body.error!.field).toBe('expires_in_days')
    const tooLong = await call(
      'POST',
      '/api/tokens',
      { cookie: plain.cookie },
      {
        name: 'x',
        expires_in_days: 31,
        scopes: ['read'],
      },
    )
    expect(tooLong.status).toBe(400)
    expect(tooLong.body.error!.message).toContain('30 days')
    const badScope = await call(
      'POST',
      '/api/tokens',
      { cookie: plain.cookie },
      {
        name: 'x',
        expires_in_days: 1,
        scopes: ['root'],
      },
    )
    expect(badScope.status).toBe(400)
  })

  test("own tokens only; system admins list and revoke anyone's", async () => {
    const mine = await mint(plain.cookie, ['read'], 'mine')
    const others = await call('GET', '/api/tokens?all=true', { cookie: plain.cookie })
    expect(others.status).toBe(403)
    const own = (await call('GET', '/api/tokens', { cookie: plain.cookie })).body.tokens as Array<{
      user_id: number
    }>
    expect(own.length).toBeGreaterThan(0)
    expect(own.every((t) => t.user_id === plain.id)).toBe(true)
    const adminsToken = await mint(admin, ['read'])
    const steal = await call('DELETE', `/api/tokens/${adminsToken.personal_access_token.id}`, {
      cookie: plain.cookie,
    })
    expect(steal.status).toBe(404)
    const everyone = (await call('GET', '/api/tokens?all=true', { cookie: admin })).body.tokens as Array<{
      id: number
    }>
    expect(everyone.map((t) => t.id)).toContain(mine.personal_access_token.id)
    const byUser = (await call('GET', `/api/tokens?user_id=${plain.id}`, { cookie: admin })).body
      .tokens as Array<{
      user_id: number
    }>
    expect(byUser.every((t) => t.user_id === plain.id)).toBe(true)
    const revoke = await call('DELETE', `/api/tokens/${mine.personal_access_token.id}`, { cookie: admin })
    expect(revoke.status).toBe(200)
    expect((await call('GET', '/api/auth/me', { bearer: mine.token })).status).toBe(401)
  })

  test('a token cannot log out or change the password; creation and revocation are audited', async () => {
    const { token, personal_access_token } = await mint(admin, ['admin'])
    expect((await call('POST', '/api/auth/logout', { bearer: token })).status).toBe(400)
    const pw = await call(
      'POST',
      '/api/auth/password',
      { bearer: token },
      {
        current_password: 'admin123',
        new_password: 'another-password',
      },
    )
    expect(pw.status).toBe(400)
    await call('DELETE', `/api/tokens/${personal_access_token.id}`, { cookie: admin })
    const events = await server.ctx.db
      .select({ event: auditLog.event })
      .from(auditLog)
      .where(eq(auditLog.targetId, String(personal_access_token.id)))
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['token.create', 'token.revoke']))
  })
})
