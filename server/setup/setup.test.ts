// GET /api/setup: each first-run step is checked off by the real state it names, in any order;
// a system admin starts a session on a machine nobody assigned them to.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer
let admin: string
let agent: FakeAgent | undefined

type Setup = { steps: Array<{ id: string; done: boolean }>; complete: boolean }
async function setup(cookie = admin) {
  const res = await server.request('/api/setup', { cookie })
  return { status: res.status, body: (await res.json()) as Setup }
}
const done = (s: Setup) => s.steps.filter((step) => step.done).map((step) => step.id)

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
})
afterAll(async () => {
  await agent?.close()
  await server.stop()
})

describe('GET /api/setup', () => {
  test('ticks each step from real state, and the system admin uses an unassigned machine', async () => {
    const fresh = await setup()
    expect(fresh.status).toBe(200)
    expect(fresh.body.steps.map((s) => s.id)).toEqual(['api_key', 'machine', 'user', 'assignment', 'session'])
    expect(done(fresh.body)).toEqual([])
    expect(fresh.body.complete).toBe(false)

    // Out of order: the machine first.
    const reg = await registerMachine(server.request, admin, { name: 'first' })
    expect(done((await setup()).body)).toEqual(['machine'])

    const key = await server.request('/api/remote/api-keys', {
      method: 'POST',
      cookie: admin,
      json: { provider: 'openai', key_name: 'main', api_key: 'sk-setup-test-0123456789' },
    })
    expect(key.status).toBe(201)
    const { api_key } = (await key.json()) as { api_key: { id: number } }
    expect(done((await setup()).body)).toEqual(['api_key', 'machine'])
    // A disabled key serves nobody: the step is open again.
    await server.request(`/api/remote/api-keys/${api_key.id}`, {
      method: 'PATCH',
      cookie: admin,
      json: { status: 'disabled' },
    })
    expect(done((await setup()).body)).toEqual(['machine'])
    await server.request(`/api/remote/api-keys/${api_key.id}`, {
      method: 'PATCH',
      cookie: admin,
      json: { status: 'enabled' },
    })

    const user = await createUser(server, admin, 'una')
    expect(done((await setup()).body)).toEqual(['api_key', 'machine', 'user'])
    // Only system admins read it.
    expect((await setup(user.cookie)).status).toBe(403)

    const assign = await server.request(`/api/remote/machines/${reg.machineId}/assign`, {
      method: 'POST',
      cookie: admin,
      json: { user_id: user.id },
    })
    expect(assign.status).toBe(200)
    expect(done((await setup()).body)).toEqual(['api_key', 'machine', 'user', 'assignment'])

    agent = await FakeAgent.connectTo(server.url, reg, { capabilities: FAKE_CAPABILITIES })
    // The admin is not assigned to the machine, and needs not be.
    const session = await server.request('/api/remote/sessions', {
      method: 'POST',
      cookie: admin,
      json: { machine_id: reg.machineId, project_path: '/work/first' },
    })
    expect(session.status).toBe(201)
    const id = ((await session.json()) as { session: { session_id: string } }).session.session_id
    await agent.send({ type: 'session.started', session_id: id, cli_session_id: 'cli-admin' })
    const chat = await server.request(`/api/remote/sessions/${id}/chat`, {
      method: 'POST',
      cookie: admin,
      json: { content: 'hello' },
    })
    expect(chat.status).toBeLessThan(300)
    const finished = await setup()
    expect(done(finished.body)).toEqual(['api_key', 'machine', 'user', 'assignment', 'session'])
    expect(finished.body.complete).toBe(true)
  })
})
