// Every cell of the seed's permission table for every machines endpoint, as system admin,
// machine admin, assigned user, unassigned user and logged out.
import { describe, expect, test } from 'bun:test'
import { FAKE_CAPABILITIES, registerMachine } from '../../test/support/fake-agent.ts'
import { sessions } from '../db/schema/index.ts'
import {
  assign,
  call,
  cookies,
  DENIED,
  ids,
  machine,
  ROLES,
  type Role,
  server,
  usePermissionWorld,
} from './permission-test-world.ts'

usePermissionWorld()

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
