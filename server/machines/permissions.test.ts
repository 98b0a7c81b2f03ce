// Every cell of the seed's permission table for every machines endpoint, as system admin,
// machine admin, assigned user, unassigned user and logged out; plus tenant isolation (404).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { FAKE_CAPABILITIES, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { sessions } from '../db/schema/index.ts'

type Role = 'system_admin' | 'machine_admin' | 'user' | 'unassigned' | 'logged_out'
const ROLES: Role[] = ['system_admin', 'machine_admin', 'user', 'unassigned', 'logged_out']

let server: TestServer
const cookies = {} as Record<Role, string>
const ids = {} as Record<'machine_admin' | 'user' | 'unassigned' | 'other_tenant' | 'target', number>
let otherTenantCookie: string
/** Tenant 2, created through the tenants API. */
let tenant2: number

async function assign(machineId: string, userId: number, permission: 'user' | 'admin') {
  const res = await server.request(`/api/remote/machines/${machineId}/assign`, {
    method: 'POST',
    cookie: cookies.system_admin,
    json: { user_id: userId, permission },
  })
  expect(res.status).toBe(200)
}

/** A machine with the standard cast assigned: machine_admin as admin, user as user. */
async function machine() {
  const { machineId } = await registerMachine(server.request, cookies.system_admin)
  await assign(machineId, ids.machine_admin, 'admin')
  await assign(machineId, ids.user, 'user')
  return machineId
}

beforeAll(async () => {
  server = await startTestServer()
  cookies.system_admin = await server.login()
  cookies.logged_out = ''
  const made = await server.request('/api/tenants', {
    method: 'POST',
    cookie: cookies.system_admin,
    json: { name: 'tenant-two' },
  })
  expect(made.status).toBe(201)
  tenant2 = (await made.json()).tenant.id
  for (const name of ['machine_admin', 'user', 'unassigned', 'target'] as const) {
    const u = await createUser(server, cookies.system_admin, `p_${name}`)
    ids[name] = u.id
    if (name !== 'target') cookies[name] = u.cookie
  }
  const other = await createUser(server, cookies.system_admin, 'p_other', 'user', tenant2)
  ids.other_tenant = other.id
  otherTenantCookie = other.cookie
}, 60_000)
afterAll(async () => {
  await server.stop()
}, 60_000)

async function call(role: Role, method: string, path: string, json?: unknown) {
  return server.request(path, { method, cookie: cookies[role] || undefined, json })
}

const DENIED: Record<Role, number> = {
  system_admin: 200,
  machine_admin: 403,
  user: 403,
  unassigned: 403,
  logged_out: 401,
}

describe('permission table', () => {
  test('POST /machines/register (make registration tokens): system admin only', async () => {
    for (const role of ROLES) {
      const res = await call(role, 'POST', '/api/remote/machines/register', { tenant_id: 1 })
      expect({ role, status: res.status }).toEqual({ role, status: DENIED[role] })
      if (res.status !== 200) expect((await res.json()).error.message).toBeString()
    }
  })

  test('DELETE /machines/{id} (deregister): system admin only', async () => {
    for (const role of ROLES) {
      const id = await machine()
      const res = await call(role, 'DELETE', `/api/remote/machines/${id}`)
      expect({ role, status: res.status }).toEqual({ role, status: DENIED[role] })
    }
  })

  test('token rotate and revoke: system admin only', async () => {
    for (const action of ['rotate', 'revoke']) {
      for (const role of ROLES) {
        const id = await machine()
        const res = await call(role, 'POST', `/api/remote/machines/${id}/token/${action}`)
        expect({ action, role, status: res.status }).toEqual({ action, role, status: DENIED[role] })
      }
    }
  })

  test('GET /machines/{id}: every assigned role; users list for admins only', async () => {
    const id = await machine()
    const expected: Record<Role, number> = {
      system_admin: 200,
      machine_admin: 200,
      user: 200,
      unassigned: 403,
      logged_out: 401,
    }
    for (const role of ROLES) {
      const res = await call(role, 'GET', `/api/remote/machines/${id}`)
      expect({ role, status: res.status }).toEqual({ role, status: expected[role] })
      if (res.status === 200) {
        const { machine: m } = await res.json()
        expect(m.capabilities).toEqual(FAKE_CAPABILITIES)
        expect('users' in m).toBe(role !== 'user')
      }
    }
  })

  test('GET /machines: admins all, users their assigned with current_user_permission', async () => {
    const id = await machine()
    const perms: Record<Role, string | undefined> = {
      system_admin: 'admin',
      machine_admin: 'admin',
      user: 'user',
      unassigned: undefined,
      logged_out: undefined,
    }
    for (const role of ROLES) {
      const res = await call(role, 'GET', '/api/remote/machines')
      if (role === 'logged_out') {
        expect(res.status).toBe(401)
        continue
      }
      const { machines } = (await res.json()) as {
        machines: Array<{ machine_id: string; current_user_permission: string }>
      }
      const row = machines.find((m) => m.machine_id === id)
      expect({ role, perm: row?.current_user_permission }).toEqual({ role, perm: perms[role] })
    }
  })

  test('assign: system admin any permission; machine admin only `user` (admin is a 403) and cannot touch an admin', async () => {
    const id = await machine()
    const url = `/api/remote/machines/${id}/assign`
    const res = await call('machine_admin', 'POST', url, { user_id: ids.target, permission: 'admin' })
    expect(res.status).toBe(403)
    expect((await res.json()).error.message).toContain('system administrators')
    const users = await (await call('system_admin', 'GET', `/api/remote/machines/${id}/users`)).json()
    expect(users.users.some((u: { user_id: number }) => u.user_id === ids.target)).toBe(false)
    const plain = await call('machine_admin', 'POST', url, { user_id: ids.target, permission: 'user' })
    expect((await plain.json()).permission).toBe('user')
    for (const role of ['user', 'unassigned'] as const) {
      expect((await call(role, 'POST', url, { user_id: ids.target, permission: 'user' })).status).toBe(403)
    }
    expect((await call('logged_out', 'POST', url, { user_id: ids.target })).status).toBe(401)
    const sys = await call('system_admin', 'POST', url, { user_id: ids.target, permission: 'admin' })
    expect((await sys.json()).permission).toBe('admin')
    // Now target is an admin: a machine admin may neither downgrade nor revoke them.
    expect(
      (await call('machine_admin', 'POST', url, { user_id: ids.target, permission: 'user' })).status,
    ).toBe(403)
    expect((await call('machine_admin', 'DELETE', `${url}/${ids.target}`)).status).toBe(403)
  })

  test('revoke assignment: system admin any; machine admin users only; others refused', async () => {
    const id = await machine()
    const url = (uid: number) => `/api/remote/machines/${id}/assign/${uid}`
    await assign(id, ids.target, 'user')
    for (const role of ['user', 'unassigned'] as const)
      expect((await call(role, 'DELETE', url(ids.target))).status).toBe(403)
    expect((await call('logged_out', 'DELETE', url(ids.target))).status).toBe(401)
    expect((await call('machine_admin', 'DELETE', url(ids.target))).status).toBe(200)
    expect((await call('machine_admin', 'DELETE', url(ids.target))).status).toBe(404)
    expect((await call('system_admin', 'DELETE', url(ids.machine_admin))).status).toBe(200)
  })

  test('GET /machines/{id}/users: admins only', async () => {
    const id = await machine()
    const expected: Record<Role, number> = {
      system_admin: 200,
      machine_admin: 200,
      user: 403,
      unassigned: 403,
      logged_out: 401,
    }
    for (const role of ROLES) {
      const res = await call(role, 'GET', `/api/remote/machines/${id}/users`)
      expect({ role, status: res.status }).toEqual({ role, status: expected[role] })
      if (res.status === 200) {
        const { users } = await res.json()
        expect(users.map((u: { user_id: number }) => u.user_id).sort()).toEqual(
          [ids.machine_admin, ids.user].sort(),
        )
      }
    }
  })

  test("GET /machines/{id}/sessions: admins see others' sessions, a user only their own", async () => {
    const id = await machine()
    const base = { tenantId: 1, remoteMachineId: id, projectPath: '/p', cliTool: 'qwen-code-cli' }
    await server.ctx.db.insert(sessions).values([
      { ...base, userId: ids.user },
      { ...base, userId: ids.machine_admin },
    ])
    const expected: Record<Role, number | null> = {
      system_admin: 2,
      machine_admin: 2,
      user: 1,
      unassigned: null,
      logged_out: null,
    }
    for (const role of ROLES) {
      const res = await call(role, 'GET', `/api/remote/machines/${id}/sessions`)
      if (expected[role] === null) {
        expect(res.status).toBe(role === 'logged_out' ? 401 : 403)
        continue
      }
      expect((await res.json()).sessions).toHaveLength(expected[role])
    }
  })

  test('GET /machines/{id}/browse (browse machine files): every assigned role; offline is 409', async () => {
    const id = await machine()
    const expected: Record<Role, number> = {
      system_admin: 409,
      machine_admin: 409,
      user: 409,
      unassigned: 403,
      logged_out: 401,
    }
    for (const role of ROLES) {
      const res = await call(role, 'GET', `/api/remote/machines/${id}/browse?path=/tmp`)
      expect({ role, status: res.status }).toEqual({ role, status: expected[role] })
    }
  })

  test('GET /machines/available lists assigned machines that are online', async () => {
    const { machineId: id, agentToken } = await registerMachine(server.request, cookies.system_admin)
    await assign(id, ids.machine_admin, 'admin')
    await assign(id, ids.user, 'user')
    const listed = async (role: Role) =>
      (
        (await (await call(role, 'GET', '/api/remote/machines/available')).json()).machines as Array<{
          machine_id: string
        }>
      ).some((m) => m.machine_id === id)
    expect(await listed('user')).toBe(false)
    const poll = await server.request('/api/remote/agent/message', {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}` },
      json: { events: [], wait: false },
    })
    expect(poll.status).toBe(200)
    expect(await listed('user')).toBe(true)
    expect(await listed('machine_admin')).toBe(true)
    expect(await listed('unassigned')).toBe(false)
  })
})

describe('tenant isolation', () => {
  test("another tenant's machine answers 404 exactly like a missing one", async () => {
    const id = await machine()
    const theirs = await server.request(`/api/remote/machines/${id}`, { cookie: otherTenantCookie })
    const missing = await server.request('/api/remote/machines/no-such-machine', {
      cookie: otherTenantCookie,
    })
    expect(theirs.status).toBe(404)
    expect(await theirs.json()).toEqual(await missing.json())
  })

  test('a tenant-1 machine cannot be assigned to a tenant-2 user', async () => {
    const id = await machine()
    const res = await call('system_admin', 'POST', `/api/remote/machines/${id}/assign`, {
      user_id: ids.other_tenant,
      permission: 'user',
    })
    expect(res.status).toBe(404)
    expect((await res.json()).error.message).toBe('User not found')
  })

  test('a deregistered machine is gone for everyone (404), and a second delete is 404', async () => {
    const id = await machine()
    expect((await call('system_admin', 'DELETE', `/api/remote/machines/${id}`)).status).toBe(200)
    expect((await call('system_admin', 'DELETE', `/api/remote/machines/${id}`)).status).toBe(404)
    expect((await call('user', 'GET', `/api/remote/machines/${id}`)).status).toBe(404)
    expect(
      (await call('system_admin', 'POST', `/api/remote/machines/${id}/assign`, { user_id: ids.user })).status,
    ).toBe(404)
  })
})

describe('tenant 2, every cell', () => {
  /** The table's cast inside tenant 2: its machine admin, its user, an unassigned user of it. */
  const t2 = {} as Record<'machine_admin' | 'user' | 'unassigned' | 'target', { id: number; cookie: string }>
  let machine2: string

  beforeAll(async () => {
    for (const name of ['machine_admin', 'user', 'unassigned', 'target'] as const)
      t2[name] = await createUser(server, cookies.system_admin, `t2_${name}`, 'user', tenant2)
    machine2 = (await registerMachine(server.request, cookies.system_admin, { tenantId: tenant2 })).machineId
    await assign(machine2, t2.machine_admin.id, 'admin')
    await assign(machine2, t2.user.id, 'user')
  }, 60_000)

  const endpoints = (id: string, uid: number) =>
    [
      ['GET', `/api/remote/machines/${id}`],
      ['GET', `/api/remote/machines/${id}/users`],
      ['GET', `/api/remote/machines/${id}/sessions`],
      ['GET', `/api/remote/machines/${id}/browse?path=/tmp`],
      ['POST', `/api/remote/machines/${id}/assign`, { user_id: uid, permission: 'user' }],
      ['DELETE', `/api/remote/machines/${id}/assign/${uid}`],
    ] as const

  test('the table holds inside tenant 2 (its admin, its user, its unassigned user, the global system admin)', async () => {
    const as = (who: keyof typeof t2 | 'system_admin') =>
      who === 'system_admin' ? cookies.system_admin : t2[who].cookie
    const expected: Record<'system_admin' | 'machine_admin' | 'user' | 'unassigned', number[]> = {
      // GET detail, GET users, GET sessions, browse (offline), assign, unassign
      system_admin: [200, 200, 200, 409, 200, 200],
      machine_admin: [200, 200, 200, 409, 200, 200],
      user: [200, 403, 200, 409, 403, 403],
      unassigned: [403, 403, 403, 403, 403, 403],
    }
    for (const role of Object.keys(expected) as Array<keyof typeof expected>) {
      const statuses: number[] = []
      for (const [method, path, json] of endpoints(machine2, t2.target.id)) {
        if (method === 'DELETE') await assign(machine2, t2.target.id, 'user')
        statuses.push((await server.request(path, { method, cookie: as(role), json })).status)
      }
      expect({ role, statuses }).toEqual({ role, statuses: expected[role] })
    }
    // A tenant-2 machine admin grants only `user` (admin is a 403), like in tenant 1.
    const grant = await server.request(`/api/remote/machines/${machine2}/assign`, {
      method: 'POST',
      cookie: t2.machine_admin.cookie,
      json: { user_id: t2.target.id, permission: 'admin' },
    })
    expect(grant.status).toBe(403)
    // Deregistering and registration tokens stay with system admins.
    for (const who of ['machine_admin', 'user'] as const) {
      const del = await server.request(`/api/remote/machines/${machine2}`, {
        method: 'DELETE',
        cookie: as(who),
      })
      expect(del.status).toBe(403)
      const reg = await server.request('/api/remote/machines/register', {
        method: 'POST',
        cookie: as(who),
        json: { tenant_id: tenant2 },
      })
      expect(reg.status).toBe(403)
    }
  })

  test('across tenants every cell answers 404, exactly like a missing machine', async () => {
    const machine1 = await machine()
    const pairs: Array<[string, string, number]> = [
      // tenant-2 roles on a tenant-1 machine
      ...(['machine_admin', 'user', 'unassigned'] as const).map(
        (r) => [t2[r].cookie, machine1, ids.user] as [string, string, number],
      ),
      // tenant-1 roles on the tenant-2 machine
      ...(['machine_admin', 'user', 'unassigned'] as const).map(
        (r) => [cookies[r], machine2, t2.user.id] as [string, string, number],
      ),
    ]
    for (const [cookie, id, uid] of pairs) {
      const there = endpoints(id, uid)
      const missing = endpoints('no-such-machine', uid)
      for (let i = 0; i < there.length; i++) {
        const [method, path, json] = there[i]!
        const res = await server.request(path, { method, cookie, json })
        const ref = await server.request(missing[i]![1], { method, cookie, json })
        expect({ path: missing[i]![1], status: res.status }).toEqual({ path: missing[i]![1], status: 404 })
        expect(await res.json()).toEqual(await ref.json())
      }
    }
    // The machines list of a tenant-2 user never shows tenant 1's.
    const list = await (await server.request('/api/remote/machines', { cookie: t2.user.cookie })).json()
    expect(list.machines.map((m: { machine_id: string }) => m.machine_id)).toEqual([machine2])
  })

  test("another tenant's session answers 404 like a missing one, for every session call", async () => {
    const [row] = await server.ctx.db
      .insert(sessions)
      .values({
        tenantId: 1,
        userId: ids.user,
        remoteMachineId: await machine(),
        projectPath: '/p',
        cliTool: 'x',
        status: 'active',
      })
      .returning({ id: sessions.id })
    const calls = [
      ['GET', ''],
      ['GET', '/stream'],
      ['PATCH', '', { title: 'x' }],
      ['POST', '/chat', { content: 'x' }],
      ['POST', '/stop'],
      ['POST', '/pause'],
    ] as const
    for (const [method, suffix, json] of calls) {
      const theirs = await server.request(`/api/remote/sessions/${row!.id}${suffix}`, {
        method,
        cookie: t2.machine_admin.cookie,
        json,
      })
      const missing = await server.request(`/api/remote/sessions/${crypto.randomUUID()}${suffix}`, {
        method,
        cookie: t2.machine_admin.cookie,
        json,
      })
      expect({ suffix, status: theirs.status }).toEqual({ suffix, status: 404 })
      expect(await theirs.json()).toEqual(await missing.json())
    }
  })
})
