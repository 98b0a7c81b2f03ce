import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer
let admin: string
let plain: { id: number; cookie: string }
let client: ReturnType<typeof testClient>

beforeAll(async () => {
  server = await startTestServer()
  admin = await server.login()
  plain = await createUser(server, admin, 'ursula')
  client = testClient(server.app)
})
afterAll(() => server.stop())

describe('users API as a system admin', () => {
  test('list includes the seed admin, without password hashes', async () => {
    const res = await reply(client.api.users.get(withCookie(admin)))
    expect(res.status).toBe(200)
    const { users } = res.body as { users: Array<Record<string, unknown>> }
    expect(users.map((u) => u.username)).toContain('admin')
    for (const u of users) expect(Object.keys(u).some((k) => k.includes('password'))).toBe(false)
  })

  test('create defaults to role user in tenant 1; duplicates are 409 naming the field', async () => {
    const res = await reply(
      client.api.users.post({ username: 'victor', password: 'victor-password' }, withCookie(admin)),
    )
    expect(res.status).toBe(201)
    const { user } = res.body as { user: { role: string; tenant_id: number; status: string } }
    expect(user).toMatchObject({ role: 'user', tenant_id: 1, status: 'active' })
    const dup = await reply(
      client.api.users.post({ username: 'VICTOR', password: 'victor-password' }, withCookie(admin)),
    )
    expect(dup.status).toBe(409)
    expect((dup.body as { error: { field: string } }).error.field).toBe('username')
  })

  test('create validates fields and names the bad one', async () => {
    const short = await reply(
      client.api.users.post({ username: 'shorty', password: 'short' }, withCookie(admin)),
    )
    expect(short.status).toBe(400)
    expect((short.body as { error: { field: string } }).error.field).toBe('password')
    // An unknown role goes raw: Eden's types refuse it.
    const role = await server.request('/api/users', {
      method: 'POST',
      cookie: admin,
      json: { username: 'rolly', password: 'long-enough', role: 'root' },
    })
    expect(role.status).toBe(400)
    expect(((await role.json()) as { error: { field: string } }).error.field).toBe('role')
    const tenant = await reply(
      client.api.users.post(
        { username: 'tenny', password: 'long-enough', tenant_id: 999 },
        withCookie(admin),
      ),
    )
    expect(tenant.status).toBe(400)
    expect((tenant.body as { error: { field: string } }).error.field).toBe('tenant_id')
    const names = (
      (await reply(client.api.users.get(withCookie(admin)))).body as { users: Array<{ username: string }> }
    ).users.map((u) => u.username)
    expect(names).not.toContain('shorty')
    expect(names).not.toContain('rolly')
    expect(names).not.toContain('tenny')
  })

  test('patch changes role and display name; an unknown id is 404; an empty patch is 400', async () => {
    const w = await createUser(server, admin, 'wendy')
    const res = await reply(
      client.api
        .users({ id: w.id })
        .patch({ role: 'system_admin', display_name: 'Wendy W' }, withCookie(admin)),
    )
    expect(res.status).toBe(200)
    expect((res.body as { user: { role: string; display_name: string } }).user).toMatchObject({
      role: 'system_admin',
      display_name: 'Wendy W',
    })
    expect(
      (await reply(client.api.users({ id: 99999 }).patch({ display_name: 'x' }, withCookie(admin)))).status,
    ).toBe(404)
    expect((await reply(client.api.users({ id: w.id }).patch({}, withCookie(admin)))).status).toBe(400)
    expect(
      (await reply(client.api.users({ id: 'abc' }).patch({ display_name: 'x' }, withCookie(admin)))).status,
    ).toBe(400)
  })

  test('disabling a user ends their sessions and blocks login', async () => {
    const x = await createUser(server, admin, 'xavier')
    expect(
      (await reply(client.api.users({ id: x.id }).patch({ status: 'disabled' }, withCookie(admin)))).status,
    ).toBe(200)
    expect((await reply(client.api.auth.me.get(withCookie(x.cookie)))).status).toBe(401)
    const relogin = await reply(
      client.api.auth.login.post({ username: 'xavier', password: 'xavier-password' }),
    )
    expect(relogin.status).toBe(401)
  })

  test('an admin cannot demote, disable or delete themselves', async () => {
    const me = ((await reply(client.api.auth.me.get(withCookie(admin)))).body as { user: { id: number } })
      .user
    expect(
      (await reply(client.api.users({ id: me.id }).patch({ role: 'user' }, withCookie(admin)))).status,
    ).toBe(409)
    expect((await reply(client.api.users({ id: me.id }).delete(undefined, withCookie(admin)))).status).toBe(
      409,
    )
  })

  test('delete removes the user and their sessions', async () => {
    const y = await createUser(server, admin, 'yolanda')
    expect((await reply(client.api.users({ id: y.id }).delete(undefined, withCookie(admin)))).status).toBe(
      200,
    )
    expect((await reply(client.api.auth.me.get(withCookie(y.cookie)))).status).toBe(401)
    expect((await reply(client.api.users({ id: y.id }).delete(undefined, withCookie(admin)))).status).toBe(
      404,
    )
  })

  test('every change is in the audit log', async () => {
    const res = await reply(client.api.audit.get({ query: { limit: 200 }, ...withCookie(admin) }))
    expect(res.status).toBe(200)
    const { entries } = res.body as { entries: Array<{ event: string; outcome: string }> }
    const events = new Set(entries.map((e) => e.event))
    for (const e of ['user.create', 'user.update', 'user.delete', 'auth.login', 'user.bootstrap'])
      expect(events).toContain(e)
  })
})

describe('users API as a plain user or logged out', () => {
  type Call = (cookie?: string) => Parameters<typeof reply>[0]
  const cases: Array<[string, string, Call]> = [
    ['GET', '/api/users', (c) => client.api.users.get(withCookie(c))],
    [
      'POST',
      '/api/users',
      (c) => client.api.users.post({ username: 'sneaky', password: 'sneaky-password' }, withCookie(c)),
    ],
    ['PATCH', '/api/users/1', (c) => client.api.users({ id: 1 }).patch({ role: 'user' }, withCookie(c))],
    ['DELETE', '/api/users/1', (c) => client.api.users({ id: 1 }).delete(undefined, withCookie(c))],
    ['GET', '/api/audit', (c) => client.api.audit.get(withCookie(c))],
  ]
  for (const [method, path, call] of cases) {
    test(`${method} ${path}: 403 for a user, 401 logged out, nothing changed`, async () => {
      const asUser = await reply(call(plain.cookie))
      expect(asUser.status).toBe(403)
      expect((asUser.body as { error: { type: string } }).error.type).toBe('forbidden')
      expect((await reply(call(undefined))).status).toBe(401)
    })
  }

  test('the admin is still an admin and sneaky was never created', async () => {
    const { users } = (await reply(client.api.users.get(withCookie(admin)))).body as {
      users: Array<{ id: number; username: string; role: string }>
    }
    expect(users.find((u) => u.id === 1)?.role).toBe('system_admin')
    expect(users.map((u) => u.username)).not.toContain('sneaky')
  })
})

describe('audit API', () => {
  test('filters by event and pages with before_id', async () => {
    const first = (
      await reply(client.api.audit.get({ query: { event: 'auth.login', limit: 2 }, ...withCookie(admin) }))
    ).body as {
      entries: Array<{ id: number; event: string; ts: string }>
      next_before_id: number | null
    }
    expect(first.entries.length).toBe(2)
    for (const e of first.entries) expect(e.event).toBe('auth.login')
    expect(first.entries[0]!.ts).toMatch(/Z$/)
    expect(first.next_before_id).not.toBeNull()
    const second = (
      await reply(
        client.api.audit.get({
          query: { event: 'auth.login', limit: 2, before_id: first.next_before_id! },
          ...withCookie(admin),
        }),
      )
    ).body as {
      entries: Array<{ id: number }>
    }
    for (const e of second.entries) expect(e.id).toBeLessThan(first.next_before_id!)
    expect(
      (await reply(client.api.audit.get({ query: { limit: 100000 }, ...withCookie(admin) }))).status,
    ).toBe(400)
  })
})
