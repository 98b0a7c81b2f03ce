// The terminal relay with an agent on long-poll: the terminal's open and keystrokes reach the
// agent in the answer to its waiting request at once, its output comes back in upload batches;
// and with no agent channel at all the browser is told to wait.
import { describe, expect, test } from 'bun:test'
import {
  decodeTerminalMessage,
  encodeTerminalMessage,
  jsonPayload,
  offsetPayload,
  readJsonPayload,
  TerminalKind,
  type TerminalServerMessage,
} from '../../protocol/index.ts'
import { closeAgents, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { startTestServer, useTestServer } from '../../test/support/server.ts'
import { openTerminalSocket, type TerminalClient } from '../../test/support/terminal-client.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { POLL_CHANNEL_GRACE_MS } from '../agents/poll-terminal.ts'

const clients: TerminalClient[] = []
const agents: FakeAgent[] = []

const world = useTestServer({
  listen: true,
  timeoutMs: 60_000,
  beforeStop: async () => {
    for (const c of clients) c.close()
    await closeAgents(agents)
  },
})

async function terminalOn(machineId: string): Promise<TerminalClient & { terminalId: string }> {
  const res = await world.server.request('/api/remote/terminals', {
    method: 'POST',
    cookie: world.admin,
    json: { machine_id: machineId },
  })
  expect(res.status).toBe(201)
  const { terminal } = (await res.json()) as { terminal: { terminal_id: string } }
  const client = await openTerminalSocket(world.server.url, world.admin, terminal.terminal_id)
  clients.push(client)
  return Object.assign(client, { terminalId: terminal.terminal_id })
}

async function firstWaiting(client: TerminalClient) {
  return (await waitUntil(() => client.messages.find((m) => m.type === 'waiting'), {
    what: 'a waiting message',
    timeoutMs: 10_000,
  })) as Extract<TerminalServerMessage, { type: 'waiting' }>
}

describe('terminal relay over long-poll, and without an agent channel', () => {
  test('long-poll: the open and keystrokes reach the waiting request at once; output comes back in a batch', async () => {
    const machine = await registerMachine(world.server.request, world.admin)
    const agent = await FakeAgent.connectTo(world.server.url, machine, {
      transport: 'long_poll',
      track: agents,
    })
    const client = await terminalOn(machine.machineId)
    const received = (kind: number) =>
      agent.terminal
        .map(decodeTerminalMessage)
        .find((m) => m?.kind === kind && m.terminalId === client.terminalId) ?? undefined
    // The waiting request is answered with the open (well before the ~25 s poll timeout).
    const open = await waitUntil(() => received(TerminalKind.OPEN), { what: 'the open', timeoutMs: 10_000 })
    expect(readJsonPayload(open.payload)).toMatchObject({ cols: 80, rows: 24, offset: 0 })

    const running = { state: 'running', cols: 80, rows: 24, reset_at: 0 }
    await agent.sendTerminal([
      encodeTerminalMessage(TerminalKind.STATE, client.terminalId, jsonPayload(running)),
      encodeTerminalMessage(
        TerminalKind.OUTPUT,
        client.terminalId,
        offsetPayload(0, new TextEncoder().encode('$ ')),
      ),
    ])
    await client.waitFor('$ ')
    client.type('ls\r')
    const input = await waitUntil(() => received(TerminalKind.INPUT), {
      what: 'the keystrokes',
      timeoutMs: 10_000,
    })
    expect(new TextDecoder().decode(input.payload)).toBe('ls\r')
    expect(client.messages.some((m) => m.type === 'waiting')).toBe(false)
  }, 30_000)

  test('an offline machine: the browser waits for it', async () => {
    const machine = await registerMachine(world.server.request, world.admin)
    const waiting = await firstWaiting(await terminalOn(machine.machineId))
    expect(waiting).toMatchObject({ type: 'waiting', code: 'offline' })
  }, 30_000)

  test('long-poll: a request held past the channel grace (an idle terminal) does not reopen the terminal', async () => {
    const slow = await startTestServer({
      listen: true,
      env: { AGENT_LONG_POLL_TIMEOUT_MS: String(POLL_CHANNEL_GRACE_MS + 1000) },
    })
    try {
      const cookie = await slow.login()
      const machine = await registerMachine(slow.request, cookie)
      const agent = await FakeAgent.connectTo(slow.url, machine, { transport: 'long_poll', track: agents })
      const res = await slow.request('/api/remote/terminals', {
        method: 'POST',
        cookie,
        json: { machine_id: machine.machineId },
      })
      const { terminal } = (await res.json()) as { terminal: { terminal_id: string } }
      const client = await openTerminalSocket(slow.url, cookie, terminal.terminal_id)
      clients.push(client)
      const of = (kind: number) =>
        agent.terminal
          .map(decodeTerminalMessage)
          .filter((m) => m?.kind === kind && m.terminalId === terminal.terminal_id)
      await waitUntil(() => of(TerminalKind.OPEN).length > 0, { what: 'the open', timeoutMs: 10_000 })
      // Idle: the next waiting request is held for the whole poll timeout, past the grace.
      const answered = agent.waitingAnswers
      await waitUntil(() => agent.waitingAnswers >= answered + 2, {
        what: 'a poll timeout to pass',
        timeoutMs: 20_000,
      })
      client.type('x')
      await waitUntil(() => of(TerminalKind.INPUT).length > 0, { what: 'the keystroke', timeoutMs: 10_000 })
      expect(of(TerminalKind.OPEN).length).toBe(1)
    } finally {
      await slow.stop()
    }
  }, 60_000)
})
