// A live session whose machine drops off shows `disconnected`, and its own state again once the
// agent is back; nothing about the session itself changes meanwhile.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'

let server: TestServer
const agents: FakeAgent[] = []

beforeAll(async () => {
  server = await startTestServer({ listen: true, env: { AGENT_OFFLINE_GRACE_MS: '100' } })
})
afterAll(async () => {
  for (const a of agents) await a.close()
  await server.stop()
})

test('disconnected while the machine is offline, active again when it returns', async () => {
  const admin = await server.login()
  const reg = await registerMachine(server.request, admin)
  const connect = async () => {
    const agent = await FakeAgent.connectTo(server.url, reg, { track: agents })
    return agent
  }
  type Body = { status?: string; machine?: { status: string }; session?: { status: string } }
  const status = async (path: string) =>
    (await (await server.request(path, { cookie: admin })).json()) as Body
  const until = async (
    path: string,
    want: string,
    pick: (b: Awaited<ReturnType<typeof status>>) => string | undefined,
  ) => waitUntil(async () => pick(await status(path)) === want, { what: `${path} ${want}` })
  let agent = await connect()
  await until(`/api/remote/machines/${reg.machineId}`, 'online', (b) => b.machine?.status ?? b.status)
  const created = await server.request('/api/remote/sessions', {
    method: 'POST',
    cookie: admin,
    json: { machine_id: reg.machineId, project_path: '/w' },
  })
  const id = ((await created.json()) as { session: { session_id: string } }).session.session_id
  await agent.waitForCommand('session.start')
  await agent.send({ type: 'session.started', session_id: id })
  await until(`/api/remote/sessions/${id}`, 'active', (b) => b.session?.status)

  await agent.close()
  await until(`/api/remote/sessions/${id}`, 'disconnected', (b) => b.session?.status)
  const listed = (await (await server.request('/api/remote/sessions', { cookie: admin })).json()) as {
    sessions: Array<{ session_id: string; status: string }>
  }
  expect(listed.sessions.find((s) => s.session_id === id)?.status).toBe('disconnected')

  agent = await connect()
  await until(`/api/remote/sessions/${id}`, 'active', (b) => b.session?.status)
})
