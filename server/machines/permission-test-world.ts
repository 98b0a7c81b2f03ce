// The world the machines permission tests share: a server with two tenants, a cast of users (system
// admin, machine admin, assigned user, unassigned user, logged out, and one in tenant 2), and helpers
// to make a machine with the cast assigned and to call as a role. Each test file calls
// usePermissionWorld() for a fresh one; the bindings are live, so tests read them as plain names.
import { afterAll, beforeAll, expect } from 'bun:test'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'

export type Role = 'system_admin' | 'machine_admin' | 'user' | 'unassigned' | 'logged_out'
export const ROLES: Role[] = ['system_admin', 'machine_admin', 'user', 'unassigned', 'logged_out']

export let server: TestServer
/** The Eden client over this world's server, for calls not made as a role (an agent's, say). */
export let client: ReturnType<typeof testClient>
export const cookies = {} as Record<Role, string>
export const ids = {} as Record<'machine_admin' | 'user' | 'unassigned' | 'other_tenant' | 'target', number>
export let otherTenantCookie: string
/** Tenant 2, created through the tenants API. */
export let tenant2: number

export async function assign(machineId: string, userId: number, permission: 'user' | 'admin') {
  const res = await call('system_admin', (api, as) =>
    api.remote.machines({ id: machineId }).assign.post({ user_id: userId, permission }, as),
  )
  expect(res.status).toBe(200)
}

/** A machine with the standard cast assigned: machine_admin as admin, user as user. */
export async function machine() {
  const { machineId } = await registerMachine(server.request, cookies.system_admin)
  await assign(machineId, ids.machine_admin, 'admin')
  await assign(machineId, ids.user, 'user')
  return machineId
}

type Api = ReturnType<typeof testClient>['api']
type As = ReturnType<typeof withCookie>
/** Calls as a role: `call('user', (api, as) => api.remote.machines({ id }).get(as))`; status and body. */
export function call(role: Role, send: (api: Api, as: As) => Parameters<typeof reply>[0]) {
  return reply(send(client.api, withCookie(cookies[role] || undefined)))
}

export const DENIED: Record<Role, number> = {
  system_admin: 200,
  machine_admin: 403,
  user: 403,
  unassigned: 403,
  logged_out: 401,
}

/** Starts this world for the calling test file (its beforeAll) and stops it after (its afterAll). */
export function usePermissionWorld() {
  beforeAll(async () => {
    server = await startTestServer()
    client = testClient(server.app)
    cookies.system_admin = await server.login()
    cookies.logged_out = ''
    const made = await call('system_admin', (api, as) => api.tenants.post({ name: 'tenant-two' }, as))
    expect(made.status).toBe(201)
    tenant2 = made.body.tenant.id
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
}
