import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { reply, testClient, withBearer, withCookie } from '../../test/support/client.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { auditLog, personalAccessTokens } from '../db/schema/index.ts'

let server: TestServer
let admin: string
let plain: { id: number; cookie: string }
let client: ReturnType<typeof testClient>

beforeAll(async () => {
  server = await startTestServer({ env: { PAT_MAX_TTL_DAYS: '30' } })
  admin = await server.login()
  plain = await createUser(server, admin, 'patricia')
  client = testClient(server.app)
})
afterAll(() => server.stop())

type Json = Record<string, unknown> & { error?: { message: string; type: string; field?: string } }
interface Created {
  token: string
  personal_access_token: { id: number; scopes: string[]; token_prefix: string; last_used_at: string | null }
}

type Scope = 'read' | 'sessions' | 'admin'

async function mint(cookie: string, scopes: Scope[], name = 'ci', days = 7): Promise<Created> {
  const res = await reply<Json>(
    client.api.tokens.post({ name, expires_in_days: days, scopes }, withCookie(cookie)),
  )
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
    const list = await reply<Json>(client.api.tokens.get(withCookie(admin)))
    expect(JSON.stringify(list.body)).not.toContain(created.token)
    expect((list.body.tokens as Array<{ id: number }>).map((t) => t.id)).toContain(
      created.personal_access_token.id,
    )
  })

  test('a read token lists but cannot change; its use is recorded as last used', async () => {
    const { token, personal_access_token } = await mint(admin, ['read'])
    const me = await reply<Json>(client.api.auth.me.get(withBearer(token)))
    expect(me.status).toBe(200)
    expect((me.body.user as { username: string }).username).toBe('admin')
    expect((await reply<Json>(client.api.users.get(withBearer(token)))).status).toBe(200)
    const change = await reply<Json>(
      client.api.users.post({ username: 'nope', password: 'long-enough' }, withBearer(token)),
    )
    expect(change.status).toBe(403)
    expect(change.body.error!.type).toBe('insufficient_scope')
    const users = (await reply<Json>(client.api.users.get(withCookie(admin)))).body.users as Array<{
      username: string
    }>
    expect(users.map((u) => u.username)).not.toContain('nope')
    const listed = (await reply<Json>(client.api.tokens.get(withCookie(admin)))).body.tokens as Array<{
      id: number
      last_used_at: string | null
    }>
    expect(listed.find((t) => t.id === personal_access_token.id)!.last_used_at).not.toBeNull()
  })

  test('a sessions token may steer sessions but not administer; an admin token may', async () => {
    const sessions = await mint(admin, ['sessions'])
    const create = await reply<Json>(
      client.api.remote.sessions.post(
        { machine_id: 'no-such-machine', project_path: '/tmp' },
        withBearer(sessions.token),
      ),
    )
    // Past the scope check: the refusal is about the machine, not the token.
    expect(create.body.error?.type).not.toBe('insufficient_scope')
    expect([404, 400]).toContain(create.status)
    const register = await reply<Json>(
      client.api.remote.machines.register.post({ tenant_id: 1 }, withBearer(sessions.token)),
    )
    expect(register.status).toBe(403)
    const adminToken = await mint(admin, ['admin'])
    const ok = await reply<Json>(
      client.api.remote.machines.register.post({ tenant_id: 1 }, withBearer(adminToken.token)),
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
    expect(
      (
        await reply<Json>(
          client.api.tokens({ id: personal_access_token.id }).delete(undefined, withCookie(admin)),
        )
      ).status,
    ).toBe(200)
    const revoked = await reply<Json>(client.api.auth.me.get(withBearer(token)))
    expect(revoked.status).toBe(401)
    expect(revoked.body.error!.message).toContain('revoked')

    const expiring = await mint(admin, ['read'], 'short', 1)
    const realNow = server.ctx.now
    server.ctx.now = () => new Date(realNow().getTime() + 86_400_000 + 1000)
    try {
      expect((await reply<Json>(client.api.auth.me.get(withBearer(expiring.token)))).status).toBe(401)
    } finally {
      server.ctx.now = realNow
    }
    expect((await reply<Json>(client.api.auth.me.get(withBearer('oa_pat_not-a-real-token')))).status).toBe(
      401,
    )
  })

  test("a disabled owner's token stops at once, and works again only when re-enabled", async () => {
    const user = await createUser(server, admin, 'dora')
    const { token } = await mint(user.cookie, ['read'])
    expect((await reply<Json>(client.api.auth.me.get(withBearer(token)))).status).toBe(200)
    expect(
      (await reply<Json>(client.api.users({ id: user.id }).patch({ status: 'disabled' }, withCookie(admin))))
        .status,
    ).toBe(200)
    expect((await reply<Json>(client.api.auth.me.get(withBearer(token)))).status).toBe(401)
    expect(
      (await reply<Json>(client.api.users({ id: user.id }).patch({ status: 'active' }, withCookie(admin))))
        .status,
    ).toBe(200)
    expect((await reply<Json>(client.api.auth.me.get(withBearer(token)))).status).toBe(200)
  })

  test("a demoted owner's admin token loses the admin rights with them", async () => {
    const boss = await createUser(server, admin, 'bossy', 'system_admin')
    const { token } = await mint(boss.cookie, ['admin'])
    expect((await reply<Json>(client.api.users.get(withBearer(token)))).status).toBe(200)
    expect(
      (await reply<Json>(client.api.users({ id: boss.id }).patch({ role: 'user' }, withCookie(admin))))
        .status,
    ).toBe(200)
    expect((await reply<Json>(client.api.users.get(withBearer(token)))).status).toBe(403)
  })

  test('never beyond the owner: no admin scope for plain users; expiry required and capped', async () => {
    const adminScope = await reply<Json>(
      client.api.tokens.post(
        {
          name: 'x',
          expires_in_days: 1,
          scopes: ['admin'],
        },
        withCookie(plain.cookie),
      ),
    )
    expect(adminScope.status).toBe(403)
    // Deliberately malformed bodies (no expiry, an unknown scope) go raw: Eden's types refuse them.
    const raw = async (json: unknown) => {
      const res = await server.request('/api/tokens', { method: 'POST', cookie: plain.cookie, json })
      return { status: res.status, body: (await res.json()) as Json }
    }
    const noExpiry = await raw({ name: 'x', scopes: ['read'] })
    expect(noExpiry.status).toBe(400)
    expect(noExpiry.body.error!.field).toBe('expires_in_days')
    const tooLong = await reply<Json>(
      client.api.tokens.post(
        {
          name: 'x',
          expires_in_days: 31,
          scopes: ['read'],
        },
        withCookie(plain.cookie),
      ),
    )
    expect(tooLong.status).toBe(400)
    expect(tooLong.body.error!.message).toContain('30 days')
    const badScope = await raw({ name: 'x', expires_in_days: 1, scopes: ['root'] })
    expect(badScope.status).toBe(400)
  })

  test("own tokens only; system admins list and revoke anyone's", async () => {
    const mine = await mint(plain.cookie, ['read'], 'mine')
    const others = await reply<Json>(
      client.api.tokens.get({ ...withCookie(plain.cookie), query: { all: true } }),
    )
    expect(others.status).toBe(403)
    const own = (await reply<Json>(client.api.tokens.get(withCookie(plain.cookie)))).body.tokens as Array<{
      user_id: number
    }>
    expect(own.length).toBeGreaterThan(0)
    expect(own.every((t) => t.user_id === plain.id)).toBe(true)
    const adminsToken = await mint(admin, ['read'])
    const steal = await reply<Json>(
      client.api
        .tokens({ id: adminsToken.personal_access_token.id })
        .delete(undefined, withCookie(plain.cookie)),
    )
    expect(steal.status).toBe(404)
    const everyone = (
      await reply<Json>(client.api.tokens.get({ ...withCookie(admin), query: { all: true } }))
    ).body.tokens as Array<{
      id: number
    }>
    expect(everyone.map((t) => t.id)).toContain(mine.personal_access_token.id)
    const byUser = (
      await reply<Json>(client.api.tokens.get({ ...withCookie(admin), query: { user_id: plain.id } }))
    ).body.tokens as Array<{
      user_id: number
    }>
    expect(byUser.every((t) => t.user_id === plain.id)).toBe(true)
    const revoke = await reply<Json>(
      client.api.tokens({ id: mine.personal_access_token.id }).delete(undefined, withCookie(admin)),
    )
    expect(revoke.status).toBe(200)
    expect((await reply<Json>(client.api.auth.me.get(withBearer(mine.token)))).status).toBe(401)
  })

  test('a token cannot log out or change the password; creation and revocation are audited', async () => {
    const { token, personal_access_token } = await mint(admin, ['admin'])
    expect((await reply<Json>(client.api.auth.logout.post(undefined, withBearer(token)))).status).toBe(400)
    const pw = await reply<Json>(
      client.api.auth.password.post(
        {
          current_password: 'admin123',
          new_password: 'another-password',
        },
        withBearer(token),
      ),
    )
    expect(pw.status).toBe(400)
    await reply<Json>(
      client.api.tokens({ id: personal_access_token.id }).delete(undefined, withCookie(admin)),
    )
    const events = await server.ctx.db
      .select({ event: auditLog.event })
      .from(auditLog)
      .where(eq(auditLog.targetId, String(personal_access_token.id)))
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['token.create', 'token.revoke']))
  })
})
