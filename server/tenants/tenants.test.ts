// The tenants API: system admins only, audited, names unique, delete refused while a tenant has
// users or machines; users and registration tokens take a tenant; listings filter by it.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { auditLog } from '../db/schema/index.ts'

let server: TestServer
let admin: string

beforeAll(async () => {
  server = await startTestServer()
  admin = await server.login()
}, 60_000)
afterAll(async () => {
  await server.stop()
}, 60_000)

const call = (method: string, path: string, json?: unknown, cookie = admin) =>
  server.request(path, { method, cookie, json })

async function audited(event: string, id: number, outcome: 'success' | 'denied' = 'success') {
  return server.ctx.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.event, event), eq(auditLog.targetId, String(id)), eq(auditLog.outcome, outcome)))
}

describe('tenants API', () => {
  test('create, list, rename, delete; each audited; names unique', async () => {
    const created = await call('POST', '/api/tenants', { name: 'acme' })
    expect(created.status).toBe(201)
    const { tenant } = await created.json()
    expect(tenant).toMatchObject({ name: 'acme', users: 0, machines: 0 })
    expect((await audited('tenant.create', tenant.id)).length).toBe(1)
    expect((await call('POST', '/api/tenants', { name: 'ACME' })).status).toBe(409)
    expect((await call('POST', '/api/tenants', { name: '  ' })).status).toBe(400)
    const list = (await (await call('GET', '/api/tenants')).json()).tenants
    expect(list.map((t: { name: string }) => t.name)).toEqual(['default', 'acme'])
    expect(list[0].users).toBe(1)
    const renamed = await call('PATCH', `/api/tenants/${tenant.id}`, { name: 'acme-corp' })
    expect((await renamed.json()).tenant.name).toBe('acme-corp')
    expect((await audited('tenant.update', tenant.id)).length).toBe(1)
    expect((await call('PATCH', `/api/tenants/${tenant.id}`, { name: 'default' })).status).toBe(409)
    expect((await call('DELETE', `/api/tenants/${tenant.id}`)).status).toBe(200)
    expect((await audited('tenant.delete', tenant.id)).length).toBe(1)
    expect((await call('DELETE', `/api/tenants/${tenant.id}`)).status).toBe(404)
    expect((await call('PATCH', '/api/tenants/999999', { name: 'x' })).status).toBe(404)
  })

  test('delete refuses while the tenant has users or machines; the refusal is audited', async () => {
    const { tenant } = await (await call('POST', '/api/tenants', { name: 'busy' })).json()
    const user = await createUser(server, admin, 'busy_user', 'user', tenant.id)
    const refused = await call('DELETE', `/api/tenants/${tenant.id}`)
    expect(refused.status).toBe(409)
    expect((await refused.json()).error.message).toContain('1 user(s)')
    expect((await audited('tenant.delete', tenant.id, 'denied')).length).toBe(1)
    expect((await call('DELETE', `/api/users/${user.id}`)).status).toBe(200)
    const { machineId } = await registerMachine(server.request, admin, { tenantId: tenant.id })
    expect((await call('DELETE', `/api/tenants/${tenant.id}`)).status).toBe(409)
    expect((await call('DELETE', `/api/remote/machines/${machineId}`)).status).toBe(200)
    expect((await call('DELETE', `/api/tenants/${tenant.id}`)).status).toBe(200)
  })

  test('system admins only', async () => {
    const plain = await createUser(server, admin, 'tenant_plain')
    expect((await call('GET', '/api/tenants', undefined, plain.cookie)).status).toBe(403)
    expect((await call('POST', '/api/tenants', { name: 'nope' }, plain.cookie)).status).toBe(403)
    expect((await server.request('/api/tenants')).status).toBe(401)
  })

  test('listings filter by tenant', async () => {
    const { tenant } = await (await call('POST', '/api/tenants', { name: 'filtered' })).json()
    const { machineId } = await registerMachine(server.request, admin, { tenantId: tenant.id })
    await createUser(server, admin, 'filtered_user', 'user', tenant.id)
    const machines = (await (await call('GET', `/api/remote/machines?tenant_id=${tenant.id}`)).json())
      .machines
    expect(machines.map((m: { machine_id: string }) => m.machine_id)).toEqual([machineId])
    const users = (await (await call('GET', `/api/users?tenant_id=${tenant.id}`)).json()).users
    expect(users.map((u: { username: string }) => u.username)).toEqual(['filtered_user'])
    const sessions = await call('GET', `/api/remote/sessions?tenant_id=${tenant.id}`)
    expect((await sessions.json()).sessions).toEqual([])
  })
})
