// The tenants API: system admins only, audited, names unique, delete refused while a tenant has
// users or machines; users and registration tokens take a tenant; listings filter by it.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { auditLog } from '../db/schema/index.ts'

let server: TestServer
let admin: string
let client: ReturnType<typeof testClient>

beforeAll(async () => {
  server = await startTestServer()
  admin = await server.login()
  client = testClient(server.app)
}, 60_000)
afterAll(async () => {
  await server.stop()
}, 60_000)

const as = (cookie = admin) => withCookie(cookie)

async function audited(event: string, id: number, outcome: 'success' | 'denied' = 'success') {
  return server.ctx.db
    .select()
    .from(auditLog)
    .where(and(eq(auditLog.event, event), eq(auditLog.targetId, String(id)), eq(auditLog.outcome, outcome)))
}

describe('tenants API', () => {
  test('create, list, rename, delete; each audited; names unique', async () => {
    const created = await reply(client.api.tenants.post({ name: 'acme' }, as()))
    expect(created.status).toBe(201)
    const { tenant } = created.body
    expect(tenant).toMatchObject({ name: 'acme', users: 0, machines: 0 })
    expect((await audited('tenant.create', tenant.id)).length).toBe(1)
    expect((await reply(client.api.tenants.post({ name: 'ACME' }, as()))).status).toBe(409)
    expect((await reply(client.api.tenants.post({ name: '  ' }, as()))).status).toBe(400)
    const list = (await reply(client.api.tenants.get(as()))).body.tenants
    expect(list.map((t: { name: string }) => t.name)).toEqual(['default', 'acme'])
    expect(list[0].users).toBe(1)
    const renamed = await reply(client.api.tenants({ id: tenant.id }).patch({ name: 'acme-corp' }, as()))
    expect(renamed.body.tenant.name).toBe('acme-corp')
    expect((await audited('tenant.update', tenant.id)).length).toBe(1)
    expect((await reply(client.api.tenants({ id: tenant.id }).patch({ name: 'default' }, as()))).status).toBe(
      409,
    )
    expect((await reply(client.api.tenants({ id: tenant.id }).delete(undefined, as()))).status).toBe(200)
    expect((await audited('tenant.delete', tenant.id)).length).toBe(1)
    expect((await reply(client.api.tenants({ id: tenant.id }).delete(undefined, as()))).status).toBe(404)
    expect((await reply(client.api.tenants({ id: 999999 }).patch({ name: 'x' }, as()))).status).toBe(404)
  })

  test('delete refuses while the tenant has users or machines; the refusal is audited', async () => {
    const { tenant } = (await reply(client.api.tenants.post({ name: 'busy' }, as()))).body
    const user = await createUser(server, admin, 'busy_user', 'user', tenant.id)
    const refused = await reply(client.api.tenants({ id: tenant.id }).delete(undefined, as()))
    expect(refused.status).toBe(409)
    expect(refused.body.error.message).toContain('1 user(s)')
    expect((await audited('tenant.delete', tenant.id, 'denied')).length).toBe(1)
    expect((await reply(client.api.users({ id: user.id }).delete(undefined, as()))).status).toBe(200)
    const { machineId } = await registerMachine(server.request, admin, { tenantId: tenant.id })
    expect((await reply(client.api.tenants({ id: tenant.id }).delete(undefined, as()))).status).toBe(409)
    expect((await reply(client.api.remote.machines({ id: machineId }).delete(undefined, as()))).status).toBe(
      200,
    )
    expect((await reply(client.api.tenants({ id: tenant.id }).delete(undefined, as()))).status).toBe(200)
  })

  test('system admins only', async () => {
    const plain = await createUser(server, admin, 'tenant_plain')
    expect((await reply(client.api.tenants.get(as(plain.cookie)))).status).toBe(403)
    expect((await reply(client.api.tenants.post({ name: 'nope' }, as(plain.cookie)))).status).toBe(403)
    expect((await reply(client.api.tenants.get())).status).toBe(401)
  })

  test('listings filter by tenant', async () => {
    const { tenant } = (await reply(client.api.tenants.post({ name: 'filtered' }, as()))).body
    const { machineId } = await registerMachine(server.request, admin, { tenantId: tenant.id })
    await createUser(server, admin, 'filtered_user', 'user', tenant.id)
    const machines = (
      await reply(client.api.remote.machines.get({ query: { tenant_id: tenant.id }, ...as() }))
    ).body.machines
    expect(machines.map((m: { machine_id: string }) => m.machine_id)).toEqual([machineId])
    const users = (await reply(client.api.users.get({ query: { tenant_id: tenant.id }, ...as() }))).body.users
    expect(users.map((u: { username: string }) => u.username)).toEqual(['filtered_user'])
    const sessions = await reply(client.api.remote.sessions.get({ query: { tenant_id: tenant.id }, ...as() }))
    expect(sessions.body.sessions).toEqual([])
  })
})
