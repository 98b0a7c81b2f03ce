import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer
let admin: string
let plain: { id: number; cookie: string }

beforeAll(async () => {
  server = await startTestServer()
  admin = await server.login()
  plain = await createUser(server, admin, 'ursula')
})
afterAll(() => server.stop())

const call = (method: string, path: string, cookie?: string, json?: unknown) =>
  server.request(path, { method, cookie, json })

describe('users API as a system admin', () => {
  test('list includes the seed admin, without password hashes', async () => {
    const res = await call('GET', '/api/users', admin)
    expect(res.status).toBe(200)
    const { users } = (await res.json()) as { users: Array<Record<string, unknown>> }
    expect(users.map((u) => u.username)).toContain('admin')
    for (const u of users) expect(Object.keys(u).some((k) => k.includes('password'))).toBe(false)
  })

  test('create defaults to role user in tenant 1; duplicates are 409 naming the field', async () => {
    const res = await call('POST', '/api/users', admin, { username: 'victor', password: 'victor-password' })
    expect(res.status).toBe(201)
    const { user } = (await res.json()) as { user: { role: string; tenant_id: number; status: string } }
    expect(user).toMatchObject({ role: 'user', tenant_id: 1, status: 'active' })
    const dup = await call('POST', '/api/users', admin, { username: 'VICTOR', password: 'victor-password' })
    expect(dup.status).toBe(409)
    expect(((await dup.json()) as { error: { field: string } }).error.field).toBe('username')
  })

  test('create validates fields and names the bad one', async () => {
    const short = await call('POST', '/api/users', admin, { username: 'shorty', password: 'short' })
    expect(short.status).toBe(400)
    expect(((await short.json()) as { error: { field: string } }).error.field).toBe('password')
    const role = await call('POST', '/api/users', admin, {
      username: 'rolly',
      password: 'long-enough',
      role: 'root',
    })
    expect(role.status).toBe(400)
    expect(((await role.json()) as { error: { field: string } }).error.field).toBe('role')
    const tenant = await call('POST', '/api/users', admin, {
      username: 'tenny',
      password: 'long-enough',
      tenant_id: 999,
    })
    expect(tenant.status).toBe(400)
    expect(((await tenant.json()) as { error: { field: string } }).error.field).toBe('tenant_id')
    const names = (
      (await (await call('GET', '/api/users', admin)).json()) as { users: Array<{ username: string }> }
    ).users.map((u) => u.username)
    expect(names).not.toContain('shorty')
    expect(names).not.toContain('rolly')
    expect(names).not.toContain('tenny')
  })

  test('patch changes role and display name; an unknown id is 404; an empty patch is 400', async () => {
    const w = await createUser(server, admin, 'wendy')
    const res = await call('PATCH', `/api/users/${w.id}`, admin, {
      role: 'system_admin',
      display_name: 'Wendy W',
    })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { user: { role: string; display_name: string } }).user).toMatchObject({
      role: 'system_admin',
      display_name: 'Wendy W',
    })
    expect((await call('PATCH', '/api/users/99999', admin, { display_name: 'x' })).status).toBe(404)
    expect((await call('PATCH', `/api/users/${w.id}`, admin, {})).status).toBe(400)
    expect((await call('PATCH', '/api/users/abc', admin, { display_name: 'x' })).status).toBe(400)
  })

  test('disabling a user ends their sessions and blocks login', async () => {
    const x = await createUser(server, admin, 'xavier')
    expect((await call('PATCH', `/api/users/${x.id}`, admin, { status: 'disabled' })).status).toBe(200)
    expect((await call('GET', '/api/auth/me', x.cookie)).status).toBe(401)
    const relogin = await server.request('/api/auth/login', {
      method: 'POST',
      json: { username: 'xavier', password: 'xavier-password' },
    })
    expect(relogin.status).toBe(401)
  })

  test('an admin cannot demote, disable or delete themselves', async () => {
    const me = ((await (await call('GET', '/api/auth/me', admin)).json()) as { user: { id: number } }).user
    expect((await call('PATCH', `/api/users/${me.id}`, admin, { role: 'user' })).status).toBe(409)
    expect((await call('DELETE', `/api/users/${me.id}`, admin)).status).toBe(409)
  })

  test('delete removes the user and their sessions', async () => {
    const y = await createUser(server, admin, 'yolanda')
    expect((await call('DELETE', `/api/users/${y.id}`, admin)).status).toBe(200)
    expect((await call('GET', '/api/auth/me', y.cookie)).status).toBe(401)
    expect((await call('DELETE', `/api/users/${y.id}`, admin)).status).toBe(404)
  })

  test('every change is in the audit log', async () => {
    const res = await call('GET', '/api/audit?limit=200', admin)
    expect(res.status).toBe(200)
    const { entries } = (await res.json()) as { entries: Array<{ event: string; outcome: string }> }
    const events = new Set(entries.map((e) => e.event))
    for (const e of ['user.create', 'user.update', 'user.delete', 'auth.login', 'user.bootstrap'])
      expect(events).toContain(e)
  })
})

describe('users API as a plain user or logged out', () => {
  const cases: Array<[string, string, unknown?]> = [
    ['GET', '/api/users'],
    ['POST', '/api/users', { username: 'sneaky', password: 'sneaky-password' }],
    ['PATCH', '/api/users/1', { role: 'user' }],
    ['DELETE', '/api/users/1'],
    ['GET', '/api/audit'],
  ]
  for (const [method, path, body] of cases) {
    test(`${method} ${path}: 403 for a user, 401 logged out, nothing changed`, async () => {
      const asUser = await call(method, path, plain.cookie, body)
      expect(asUser.status).toBe(403)
      expect(((await asUser.json()) as { error: { type: string } }).error.type).toBe('forbidden')
      expect((await call(method, path, undefined, body)).status).toBe(401)
    })
  }

  test('the admin is still an admin and sneaky was never created', async () => {
    const { users } = (await (await call('GET', '/api/users', admin)).json()) as {
      users: Array<{ id: number; username: string; role: string }>
    }
    expect(users.find((u) => u.id === 1)?.role).toBe('system_admin')
    expect(users.map((u) => u.username)).not.toContain('sneaky')
  })
})

describe('audit API', () => {
  test('filters by event and pages with before_id', async () => {
    const first = (await (await call('GET', '/api/audit?event=auth.login&limit=2', admin)).json()) as {
      entries: Array<{ id: number; event: string; ts: string }>
      next_before_id: number | null
    }
    expect(first.entries.length).toBe(2)
    for (const e of first.entries) expect(e.event).toBe('auth.login')
    expect(first.entries[0]!.ts).toMatch(/Z$/)
    expect(first.next_before_id).not.toBeNull()
    const second = (await (
      await call('GET', `/api/audit?event=auth.login&limit=2&before_id=${first.next_before_id}`, admin)
    ).json()) as {
      entries: Array<{ id: number }>
    }
    for (const e of second.entries) expect(e.id).toBeLessThan(first.next_before_id!)
    expect((await call('GET', '/api/audit?limit=100000', admin)).status).toBe(400)
  })
})
