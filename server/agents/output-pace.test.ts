// An agent over its output rate is slowed through its receipts (the server stores and answers
// its frames at the rate), and one that ignores its send window is cut off rather than held in
// memory; whatever was acknowledged is stored.
import { describe, expect, test } from 'bun:test'
import { and, eq, inArray } from 'drizzle-orm'
import { FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessionOutput } from '../db/schema/index.ts'
import { CLOSE_FLOODED, MAX_QUEUED_FRAME_BYTES } from './websocket.ts'

const KB = 1024

const world = useTestServer({
  listen: true,
  env: { AGENT_OUTPUT_RATE_KB_PER_SECOND: '64', AGENT_OUTPUT_BURST_KB: '64', SESSION_OUTPUT_MAX_MB: '100' },
})

async function agentWithSession(name: string) {
  const reg = await registerMachine(world.server.request, world.admin, { name })
  const agent = await FakeAgent.connectTo(world.server.url, reg)
  const res = await world.server.request('/api/remote/sessions', {
    method: 'POST',
    cookie: world.admin,
    json: { machine_id: reg.machineId, project_path: '/p' },
  })
  expect(res.status).toBe(201)
  const sessionId = ((await res.json()) as { session: { session_id: string } }).session.session_id
  return { agent, sessionId }
}

/** Frame n: `records` records of `bytes` each, seqs n*records.. (a record holds at most 256 K). */
const outputFrame = (sessionId: string, n: number, bytes: number, records = 1) => ({
  type: 'session.output',
  id: `flood-${n}`,
  session_id: sessionId,
  records: Array.from({ length: records }, (_, i) => ({
    seq: n * records + i,
    stream: 'stdout',
    data: 'f'.repeat(bytes),
    ts: new Date().toISOString(),
  })),
})

const receipts = (agent: FakeAgent) =>
  agent.frames.flatMap((f) => (f.type === 'received' ? f.ids.filter((id) => id.startsWith('flood-')) : []))

describe('agent output rate', () => {
  test('frames over the rate are stored and answered at the rate, not at once', async () => {
    const { agent, sessionId } = await agentWithSession('paced-box')
    // 4 x 64 KB at 64 KB/s with 64 KB of burst: the last can be answered no sooner than 3 s on.
    const started = performance.now()
    for (let n = 0; n < 4; n++) await agent.send(outputFrame(sessionId, n, 64 * KB))
    await waitUntil(() => receipts(agent).length === 4, { what: 'four receipts', timeoutMs: 60_000 })
    const elapsed = performance.now() - started
    console.log(`4 x 64 KB at 64 KB/s answered in ${Math.round(elapsed)} ms`)
    expect(elapsed).toBeGreaterThanOrEqual(2500)
    await agent.close()
  }, 90_000)

  test('an agent that ignores its window is cut off; everything it had acknowledged is stored', async () => {
    const { agent, sessionId } = await agentWithSession('flood-box')
    const frames = Math.ceil(MAX_QUEUED_FRAME_BYTES / (1024 * KB)) + 4
    for (let n = 0; n < frames; n++) await agent.send(outputFrame(sessionId, n, 256 * KB, 4))
    await waitUntil(() => agent.closeCode !== undefined, { what: 'the socket closed', timeoutMs: 60_000 })
    expect(agent.closeCode).toBe(CLOSE_FLOODED)
    const acked = receipts(agent).flatMap((id) => {
      const n = Number(id.slice('flood-'.length))
      return [0, 1, 2, 3].map((i) => n * 4 + i)
    })
    expect(acked.length).toBeLessThan(frames * 4)
    expect(agent.errors).toEqual([])
    const stored = await world.server.ctx.db
      .select({ seq: sessionOutput.seq })
      .from(sessionOutput)
      .where(
        and(eq(sessionOutput.sessionId, sessionId), inArray(sessionOutput.seq, acked.length ? acked : [-1])),
      )
    expect(stored.map((r) => r.seq).sort((a, b) => a - b)).toEqual([...acked].sort((a, b) => a - b))
  }, 90_000)
})
