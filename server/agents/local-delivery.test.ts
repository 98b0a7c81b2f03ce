// Commands sent from memory (queueCommand -> the channel on this instance, marked delivered
// afterwards), on both transports: they keep queue order behind pending commands and running
// claims, and a crash between the send and the mark costs a redelivery, never the command.
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { Command } from '../../protocol/index.ts'
import { closeAgents, FakeAgent, type FakeTransport, registerMachine } from '../../test/support/fake-agent.ts'
import { useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { agentCommands } from '../db/schema/index.ts'
import { queueCommand } from './commands.ts'

const agents: FakeAgent[] = []

const world = useTestServer({ listen: true, timeoutMs: 60_000, beforeStop: () => closeAgents(agents) })

async function connect(
  m: { machineId: string; agentToken: string },
  transport: FakeTransport,
  autoAck = true,
) {
  const agent = await FakeAgent.connectTo(world.server.url, m, { transport, autoAck, track: agents })
  return agent
}

const fsList = (n: number | string) => ({ type: 'fs.list' as const, request_id: `r${n}`, path: '/' })
const commandRow = async (id: string) =>
  (await world.server.ctx.db.select().from(agentCommands).where(eq(agentCommands.id, id)))[0]!

/** A command queued by another instance whose NOTIFY has not arrived here (no wake). */
async function queuedElsewhere(machineId: string, n: number | string): Promise<string> {
  const { type, ...payload } = fsList(n)
  const [row] = await world.server.ctx.db
    .insert(agentCommands)
    .values({ machineId, kind: type, payload, createdAt: new Date() })
    .returning()
  return row!.id
}

const receivedIds = (agent: FakeAgent, ids: string[]) =>
  agent.commands.filter((c) => ids.includes(c.id)).map((c) => c.id)

describe.each(['websocket', 'long_poll'] as const)('commands from memory over %s', (transport) => {
  test('an older command still pending (queued elsewhere) goes first, through a claim', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const agent = await connect(m, transport)
    // A long-poll agent's waiting request is attached before anything is queued.
    if (transport === 'long_poll') await Bun.sleep(50)
    const older = await queuedElsewhere(m.machineId, 'older')
    const newer = (await queueCommand(world.server.ctx, m.machineId, fsList('newer'))).id
    await agent.waitFor(() => receivedIds(agent, [older, newer]).length === 2, 5000, 'both commands')
    expect(receivedIds(agent, [older, newer])).toEqual([older, newer])
  })

  test('a crash between the send and its delivery mark leaves the command pending: sent again', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const first = await connect(m, transport, false)
    if (transport === 'long_poll') await Bun.sleep(50)
    const queued: Command = await queueCommand(world.server.ctx, m.machineId, fsList('crash'))
    // Sent from memory with its mark waiting in the buffer; the buffer dies with the process.
    const marks = world.server.ctx.state.deliveryMarks
    expect(marks.pending.has(queued.id)).toBe(true)
    marks.pending.clear()
    await first.waitForCommand('fs.list')
    expect((await commandRow(queued.id)).status).toBe('pending')
    await first.close()
    const second = await connect(m, transport)
    expect((await second.waitForCommand('fs.list')).id).toBe(queued.id)
    await waitUntil(async () => (await commandRow(queued.id)).status === 'acked', { what: 'ack' })
  })
})
