// The terminal relay when the machine has no agent WebSocket here: a machine online over
// long-poll (which carries no terminal bytes) is told apart from one that is offline, so the
// browser can say a terminal is not available over long-poll instead of "waiting" forever.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { TerminalServerMessage } from '../../protocol/index.ts'
import { FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { openTerminalSocket, type TerminalClient } from '../../test/support/terminal-client.ts'

let server: TestServer
let admin: string
const clients: TerminalClient[] = []
const agents: FakeAgent[] = []

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
}, 60_000)
afterAll(async () => {
  for (const c of clients) c.close()
  for (const a of agents) await a.close()
  await server.stop()
}, 60_000)

async function terminalOn(machineId: string) {
  const res = await server.request('/api/remote/terminals', {
    method: 'POST',
    cookie: admin,
    json: { machine_id: machineId },
  })
  expect(res.status).toBe(201)
  const { terminal } = (await res.json()) as { terminal: { terminal_id: string } }
  const client = await openTerminalSocket(server.url, admin, terminal.terminal_id)
  clients.push(client)
  return client
}

async function firstWaiting(client: TerminalClient) {
  for (let i = 0; i < 200 && !client.messages.some((m) => m.type === 'waiting'); i++) await Bun.sleep(50)
  return client.messages.find((m) => m.type === 'waiting') as Extract<
    TerminalServerMessage,
    { type: 'waiting' }
  >
}

describe('terminal relay without an agent socket', () => {
  test('a machine on long-poll: the browser is told terminals need the WebSocket', async () => {
    const machine = await registerMachine(server.request, admin)
    const agent = new FakeAgent({
      url: server.url,
      token: machine.agentToken,
      machineId: machine.machineId,
      transport: 'long_poll',
    })
    agents.push(agent)
    await agent.connect()
    for (let i = 0; i < 200; i++) {
      const res = await server.request(`/api/remote/machines/${machine.machineId}`, { cookie: admin })
      const { machine: row } = (await res.json()) as { machine: { status: string; transport: string } }
      if (row.status === 'online' && row.transport === 'long_poll') break
      await Bun.sleep(50)
    }
    const waiting = await firstWaiting(await terminalOn(machine.machineId))
    expect(waiting).toMatchObject({ type: 'waiting', code: 'long_poll' })
    expect(waiting.reason).toContain('long-poll')
  }, 30_000)

  test('an offline machine: the browser waits for it', async () => {
    const machine = await registerMachine(server.request, admin)
    const waiting = await firstWaiting(await terminalOn(machine.machineId))
    expect(waiting).toMatchObject({ type: 'waiting', code: 'offline' })
  }, 30_000)
})
