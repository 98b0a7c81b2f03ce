// Every cell of the seed's permission table for every machines endpoint, as system admin,
// machine admin, assigned user, unassigned user and logged out.
import { describe, expect, test } from 'bun:test'
import { reply, withBearer } from '../../test/support/client.ts'
import { FAKE_CAPABILITIES, registerMachine } from '../../test/support/fake-agent.ts'
import { sessions } from '../db/schema/index.ts'
import {
  assign,
  call,
  client,
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
      const res = await call(role, (api, as) => api.remote.machines.register.post({ tenant_id: 1 }, as))
      expect({ role, status: res.status }).toEqual({ role, status: DENIED[role] })
      if (res.status !== 200) expect(res.body.error.message).toBeString()
    }
  })

  test('DELETE /machines/{id} (deregister): system admin only', async () => {
    for (const role of ROLES) {
      const id = await machine()
      const res = await call(role, (api, as) => api.remote.machines({ id }).delete(undefined, as))
      expect({ role, status: res.status }).toEqual({ role, status: DENIED[role] })
    }
  })

  test('token rotate and revoke: system admin only', async () => {
    for (const action of ['rotate', 'revoke'] as const) {
      for (const role of ROLES) {
        const id = await machine()
        const res = await call(role, (api, as) =>
          api.remote.machines({ id }).token[action].post(undefined, as),
        )
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
      const res = await call(role, (api, as) => api.remote.machines({ id }).get(as))
      expect({ role, status: res.status }).toEqual({ role, status: expected[role] })
      if (res.status === 200) {
        const { machine: m } = res.body
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
      const res = await call(role, (api, as) => api.remote.machines.get(as))
      if (role === 'logged_out') {
        expect(res.status).toBe(401)
        continue
      }
      const { machines } = res.body as {
        machines: Array<{ machine_id: string; current_user_permission: string }>
      }
      const row = machines.find((m) => m.machine_id === id)
      expect({ role, perm: row?.current_user_permission }).toEqual({ role, perm: perms[role] })
    }
  })

  test('assign: system admin any permission; machine admin only `user` (admin is a 403) and cannot touch an admin', async () => {
    const id = await machine()
    const grant = (role: Role, body: { user_id: number; permission?: 'user' | 'admin' }) =>
      call(role, (api, as) => api.remote.machines({ id }).assign.post(body, as))
    const res = await grant('machine_admin', { user_id: ids.target, permission: 'admin' })
    expect(res.status).toBe(403)
    expect(res.body.error.message).toContain('system administrators')
    const users = (await call('system_admin', (api, as) => api.remote.machines({ id }).users.get(as))).body
    expect(users.users.some((u: { user_id: number }) => u.user_id === ids.target)).toBe(false)
    const plain = await grant('machine_admin', { user_id: ids.target, permission: 'user' })
    expect(plain.body.permission).toBe('user')
    for (const role of ['user', 'unassigned'] as const) {
      expect((await grant(role, { user_id: ids.target, permission: 'user' })).status).toBe(403)
    }
    expect((await grant('logged_out', { user_id: ids.target })).status).toBe(401)
    const sys = await grant('system_admin', { user_id: ids.target, permission: 'admin' })
    expect(sys.body.permission).toBe('admin')
    // Now target is an admin: a machine admin may neither downgrade nor revoke them.
    expect((await grant('machine_admin', { user_id: ids.target, permission: 'user' })).status).toBe(403)
    expect(
      (
        await call('machine_admin', (api, as) =>
          api.remote.machines({ id }).assign({ user_id: ids.target }).delete(undefined, as),
        )
      ).status,
    ).toBe(403)
  })

  test('revoke assignment: system admin any; machine admin users only; others refused', async () => {
    const id = await machine()
    const revoke = (role: Role, uid: number) =>
      call(role, (api, as) => api.remote.machines({ id }).assign({ user_id: uid }).delete(undefined, as))
    await assign(id, ids.target, 'user')
    for (const role of ['user', 'unassigned'] as const)
      expect((await revoke(role, ids.target)).status).toBe(403)
    expect((await revoke('logged_out', ids.target)).status).toBe(401)
    expect((await revoke('machine_admin', ids.target)).status).toBe(200)
    expect((await revoke('machine_admin', ids.target)).status).toBe(404)
    expect((await revoke('system_admin', ids.machine_admin)).status).toBe(200)
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
      const res = await call(role, (api, as) => api.remote.machines({ id }).users.get(as))
      expect({ role, status: res.status }).toEqual({ role, status: expected[role] })
      if (res.status === 200) {
        const { users } = res.body
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
      const res = await call(role, (api, as) => api.remote.machines({ id }).sessions.get(as))
      if (expected[role] === null) {
        expect(res.status).toBe(role === 'logged_out' ? 401 : 403)
        continue
      }
      expect(res.body.sessions).toHaveLength(expected[role])
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
      const res = await call(role, (api, as) =>
        api.remote.machines({ id }).browse.get({ query: { path: '/tmp' }, ...as }),
      )
      expect({ role, status: res.status }).toEqual({ role, status: expected[role] })
    }
  })

  test('GET /machines/available lists assigned machines that are online', async () => {
    const { machineId: id, agentToken } = await registerMachine(server.request, cookies.system_admin)
    await assign(id, ids.machine_admin, 'admin')
    await assign(id, ids.user, 'user')
    const listed = async (role: Role) =>
      (
        (await call(role, (api, as) => api.remote.machines.available.get(as))).body.machines as Array<{
          machine_id: string
        }>
      ).some((m) => m.machine_id === id)
    expect(await listed('user')).toBe(false)
    const poll = await reply(
      client.api.remote.agent.message.post({ events: [], wait: false }, withBearer(agentToken)),
    )
    expect(poll.status).toBe(200)
    expect(await listed('user')).toBe(true)
    expect(await listed('machine_admin')).toBe(true)
    expect(await listed('unassigned')).toBe(false)
  })
})
