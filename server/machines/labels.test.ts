// Machine labels over HTTP: a system admin sets them (deduplicated, replacing the old set), they
// show in the machine's detail and list, a bad label is a 400, and the change is audited.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer
let admin: string

beforeAll(async () => {
  server = await startTestServer()
  admin = await server.login()
}, 60_000)
afterAll(() => server.stop())

const settings = (id: string, cookie: string, json: unknown) =>
  server.request(`/api/remote/machines/${id}/settings`, { method: 'PATCH', cookie, json })

describe('machine labels', () => {
  test('set, shown, replaced, refused when malformed or not a system admin, audited', async () => {
    const { machineId } = await registerMachine(server.request, admin, { name: 'labelled' })
    const detail = async () =>
      (
        (await (await server.request(`/api/remote/machines/${machineId}`, { cookie: admin })).json()) as {
          machine: { labels: string[] }
        }
      ).machine
    expect((await detail()).labels).toEqual([])
    const set = await settings(machineId, admin, { labels: ['gpu', 'team-a', 'gpu'] })
    expect(set.status).toBe(200)
    expect((await detail()).labels).toEqual(['gpu', 'team-a'])
    const list = (await (await server.request('/api/remote/machines', { cookie: admin })).json()) as {
      machines: Array<{ machine_id: string; labels: string[] }>
    }
    expect(list.machines.find((m) => m.machine_id === machineId)?.labels).toEqual(['gpu', 'team-a'])

    const bad = await settings(machineId, admin, { labels: ['has space'] })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as { error: { type: string } }).error.type).toBe('validation_error')
    const user = await createUser(server, admin, 'label-user')
    expect((await settings(machineId, user.cookie, { labels: ['mine'] })).status).toBe(403)

    await settings(machineId, admin, { labels: ['eu-west.2'] })
    expect((await detail()).labels).toEqual(['eu-west.2'])
    const audit = await (await server.request('/api/audit?event=machine.settings', { cookie: admin })).text()
    expect(audit).toContain('eu-west.2')
  })
})
