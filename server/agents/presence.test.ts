// Batched heartbeats: many heartbeats from several agents become a few multi-row UPDATEs, the
// latest system_info wins, the sweeper sees buffered heartbeats, and a closed channel's buffered
// heartbeat does not bring its machine back online.
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { closeAgents, connectedAgent, type FakeAgent } from '../../test/support/fake-agent.ts'
import { useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { remoteMachines } from '../db/schema/index.ts'
import { LOAD_HISTORY_SAMPLES } from './load-history.ts'
import { flushHeartbeats, markDisconnected, sweepSilentMachines } from './presence.ts'

const FLUSH_MS = 400
const agents: FakeAgent[] = []

const world = useTestServer({
  listen: true,
  env: { AGENT_HEARTBEAT_FLUSH_MS: String(FLUSH_MS) },
  timeoutMs: 60_000,
  beforeStop: () => closeAgents(agents),
})

const connected = (transport: 'websocket' | 'long_poll' = 'websocket') =>
  connectedAgent(world.server, world.admin, agents, transport)

const machineRow = async (id: string) =>
  (await world.server.ctx.db.select().from(remoteMachines).where(eq(remoteMachines.machineId, id)))[0]!

const metrics = () => world.server.ctx.state.metrics
const counters = () => ({
  heartbeats: metrics().heartbeats.value(),
  flushes: metrics().heartbeatFlushes.value(),
  rows: metrics().heartbeatRowsFlushed.value(),
})

describe('batched heartbeats', () => {
  test('N heartbeats from M agents cost a few UPDATEs, and the last system_info is stored', async () => {
    const machines = await Promise.all([connected(), connected(), connected()])
    const perAgent = 40
    await flushHeartbeats(world.server.ctx)
    const before = counters()
    const started = Date.now()
    for (let i = 0; i < perAgent; i++)
      for (const m of machines)
        await m.agent.send({ type: 'heartbeat', system_info: { beat: i }, sessions: [] })
    const total = perAgent * machines.length
    await waitUntil(() => counters().heartbeats - before.heartbeats === total, {
      what: 'heartbeats received',
    })
    for (const m of machines)
      await waitUntil(async () => (await machineRow(m.machineId)).systemInfo.beat === perAgent - 1, {
        what: 'flushed',
      })
    const elapsed = Date.now() - started
    const after = counters()
    const flushes = after.flushes - before.flushes
    // At most one statement per flush interval that passed (plus the one in flight), not one per heartbeat.
    expect(flushes).toBeGreaterThanOrEqual(1)
    expect(flushes).toBeLessThanOrEqual(Math.ceil(elapsed / FLUSH_MS) + 1)
    expect(flushes).toBeLessThan(total / 10)
    // Each flush writes each machine once, however many heartbeats it sent meanwhile.
    expect(after.rows - before.rows).toBeLessThanOrEqual(flushes * machines.length)
    expect(after.rows - before.rows).toBeLessThan(total)
    for (const m of machines) expect((await machineRow(m.machineId)).status).toBe('online')
  })

  test('a heartbeat without system_info keeps the stored one', async () => {
    const { machineId, agent } = await connected()
    await agent.send({ type: 'heartbeat', system_info: { load: 0.25 }, sessions: [] })
    await waitUntil(async () => (await machineRow(machineId)).systemInfo.load === 0.25, {
      what: 'first flush',
    })
    const before = (await machineRow(machineId)).lastHeartbeat!
    const seen = counters().heartbeats
    await agent.send({ type: 'heartbeat', sessions: [] })
    await waitUntil(() => counters().heartbeats > seen, { what: 'heartbeat received' })
    await flushHeartbeats(world.server.ctx)
    const row = await machineRow(machineId)
    expect(row.systemInfo.load).toBe(0.25)
    expect(row.lastHeartbeat!.getTime()).toBeGreaterThanOrEqual(before.getTime())
  })

  test('the sweeper writes buffered heartbeats before judging silence', async () => {
    const { machineId, agent } = await connected()
    const longAgo = new Date(Date.now() - 10 * 60_000)
    await world.server.ctx.db
      .update(remoteMachines)
      .set({ lastHeartbeat: longAgo })
      .where(eq(remoteMachines.machineId, machineId))
    const seen = counters().heartbeats
    await agent.send({ type: 'heartbeat', sessions: [] })
    await waitUntil(() => counters().heartbeats > seen, { what: 'heartbeat received' })
    await sweepSilentMachines(world.server.ctx)
    const row = await machineRow(machineId)
    expect(row.status).toBe('online')
    expect(row.lastHeartbeat!.getTime()).toBeGreaterThan(longAgo.getTime())
  })

  test('a buffered heartbeat does not revive a machine marked offline', async () => {
    const { machineId, agent } = await connected()
    await flushHeartbeats(world.server.ctx)
    const seen = counters().heartbeats
    await agent.send({ type: 'heartbeat', sessions: [] })
    await waitUntil(() => counters().heartbeats > seen, { what: 'heartbeat received' })
    const { connectionEpoch } = await machineRow(machineId)
    await markDisconnected(world.server.ctx, machineId, connectionEpoch, 'test')
    await flushHeartbeats(world.server.ctx)
    expect(await machineRow(machineId)).toMatchObject({ status: 'offline', connected: false })
  })

  test('a stale close (older epoch) leaves the buffered heartbeat to be written', async () => {
    const { machineId, agent } = await connected()
    await flushHeartbeats(world.server.ctx)
    const first = await machineRow(machineId)
    const seen = counters().heartbeats
    await agent.send({ type: 'heartbeat', system_info: { stale: true }, sessions: [] })
    await waitUntil(() => counters().heartbeats > seen, { what: 'heartbeat received' })
    await markDisconnected(world.server.ctx, machineId, first.connectionEpoch - 1, 'old socket')
    await flushHeartbeats(world.server.ctx)
    const row = await machineRow(machineId)
    expect(row).toMatchObject({ status: 'online', connected: true })
    expect(row.systemInfo.stale).toBe(true)
  })

  test('long-polls of a machine already online over long-poll write nothing but the buffered time', async () => {
    const { machineId, agent } = await connected('long_poll')
    await flushHeartbeats(world.server.ctx)
    const first = await machineRow(machineId)
    expect(first).toMatchObject({ status: 'online', transport: 'long_poll' })
    const seen = counters().heartbeats
    for (let i = 0; i < 5; i++) await agent.send({ type: 'heartbeat', sessions: [] })
    await waitUntil(() => counters().heartbeats - seen === 5, { what: 'heartbeats received' })
    await flushHeartbeats(world.server.ctx)
    const row = await machineRow(machineId)
    expect(row.connectionEpoch).toBe(first.connectionEpoch)
    expect(row.lastHeartbeat!.getTime()).toBeGreaterThan(first.lastHeartbeat!.getTime())
  })

  test('each flush adds one load sample to the machine, the last LOAD_HISTORY_SAMPLES kept in order', async () => {
    const { machineId, agent } = await connected()
    await flushHeartbeats(world.server.ctx)
    expect((await machineRow(machineId)).loadHistory).toEqual([])
    const beats = LOAD_HISTORY_SAMPLES + 5
    for (let i = 0; i < beats; i++) {
      const seen = counters().heartbeats
      const info = {
        cpu_percent: i,
        memory_gb: 10,
        memory_free_gb: 2.5,
        disk_free_gb: 40,
        disk_total_gb: 100,
      }
      await agent.send({ type: 'heartbeat', system_info: info, sessions: [] })
      await waitUntil(() => counters().heartbeats > seen, { what: 'heartbeat received' })
      await flushHeartbeats(world.server.ctx)
    }
    const history = (await machineRow(machineId)).loadHistory
    expect(history).toHaveLength(LOAD_HISTORY_SAMPLES)
    expect(history.map((s) => s.cpu_percent)).toEqual(
      Array.from({ length: LOAD_HISTORY_SAMPLES }, (_, i) => i + beats - LOAD_HISTORY_SAMPLES),
    )
    expect(history.at(-1)).toMatchObject({ memory_percent: 75, disk_free_gb: 40, disk_total_gb: 100 })
    expect(Date.parse(history.at(-1)!.at)).toBeGreaterThanOrEqual(Date.parse(history[0]!.at))
    // A heartbeat that carries no load (older agents) adds no sample.
    const seen = counters().heartbeats
    await agent.send({ type: 'heartbeat', system_info: { hostname: 'x' }, sessions: [] })
    await waitUntil(() => counters().heartbeats > seen, { what: 'heartbeat received' })
    await flushHeartbeats(world.server.ctx)
    expect((await machineRow(machineId)).loadHistory.at(-1)!.cpu_percent).toBe(beats - 1)
  })
})
