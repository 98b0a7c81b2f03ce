// Tenant isolation for machines: another tenant's machine or session answers 404 exactly like a
// missing one, and the permission table holds inside tenant 2.
import { beforeAll, describe, expect, test } from 'bun:test'
import { registerMachine } from '../../test/support/fake-agent.ts'
import { createUser } from '../../test/support/server.ts'
import { sessions } from '../db/schema/index.ts'
import {
  assign,
  call,
  cookies,
  ids,
  machine,
  otherTenantCookie,
  server,
  tenant2,
  usePermissionWorld,
} from './permission-test-world.ts'

usePermissionWorld()

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
    const res = await call('system_admin', (api, as) =>
      api.remote.machines({ id }).assign.post({ user_id: ids.other_tenant, permission: 'user' }, as),
    )
    expect(res.status).toBe(404)
    expect(res.body.error.message).toBe('User not found')
  })

  test('a deregistered machine is gone for everyone (404), and a second delete is 404', async () => {
    const id = await machine()
    const deregister = () =>
      call('system_admin', (api, as) => api.remote.machines({ id }).delete(undefined, as))
    expect((await deregister()).status).toBe(200)
    expect((await deregister()).status).toBe(404)
    expect((await call('user', (api, as) => api.remote.machines({ id }).get(as))).status).toBe(404)
    expect(
      (
        await call('system_admin', (api, as) =>
          api.remote.machines({ id }).assign.post({ user_id: ids.user }, as),
        )
      ).status,
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
