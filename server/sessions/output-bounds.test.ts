// A session's stored output stays under SESSION_OUTPUT_MAX_MB: past it the oldest records are
// dropped, a notice record takes their place saying how much went, the newest output is kept,
// and a resent batch of dropped records is not stored again.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq, sql } from 'drizzle-orm'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessionOutput, sessions } from '../db/schema/index.ts'

const MB = 1024 * 1024
let server: TestServer
let admin: string
let agent: FakeAgent
let machineId: string

type Json = Record<string, any>
let client: ReturnType<typeof testClient>

beforeAll(async () => {
  server = await startTestServer({ listen: true, env: { SESSION_OUTPUT_MAX_MB: '1' } })
  client = testClient(server.app, server.url)
  admin = await server.login()
  const reg = await registerMachine(server.request, admin, { name: 'flood-box' })
  machineId = reg.machineId
  agent = await FakeAgent.connectTo(server.url, reg)
})
afterAll(async () => {
  await agent?.close()
  await server.stop()
})

const RECORD = 'y'.repeat(200 * 1024)
const PER_FRAME = 4

/** Sends frame `n` (records n*4 .. n*4+3, 200 KB each) and waits until the server stored it. */
async function sendFrame(sessionId: string, n: number) {
  const id = `out-${n}-${crypto.randomUUID()}`
  await agent.send({
    type: 'session.output',
    id,
    session_id: sessionId,
    records: Array.from({ length: PER_FRAME }, (_, i) => ({
      seq: n * PER_FRAME + i,
      stream: 'stdout',
      data: RECORD,
      ts: new Date().toISOString(),
    })),
  })
  await waitUntil(() => agent.frames.some((f) => f.type === 'received' && f.ids.includes(id)), {
    what: `receipt of ${id}`,
    timeoutMs: 30_000,
  })
}

async function allOutput(sessionId: string): Promise<Json[]> {
  const out: Json[] = []
  let after = -1
  for (let more = true; more; ) {
    const { body } = await reply(
      client.api.remote
        .sessions({ id: sessionId })
        .get({ query: { output_after: after }, ...withCookie(admin) }),
    )
    out.push(...body.session.output)
    more = body.session.output_has_more
    after = out.at(-1)?.seq ?? after
  }
  return out
}

describe('stored output per session', () => {
  test('past the limit the oldest output is dropped, with a notice in its place', async () => {
    const created = await reply(
      client.api.remote.sessions.post({ machine_id: machineId, project_path: '/p' }, withCookie(admin)),
    )
    expect(created.status).toBe(201)
    const id = created.body.session.session_id as string
    // 5 frames x 800 KB = 4 MB into a session limited to 1 MB.
    for (let n = 0; n < 5; n++) await sendFrame(id, n)

    const [stored] = await server.ctx.db
      .select({ bytes: sql<string>`coalesce(sum(octet_length(${sessionOutput.data})), 0)` })
      .from(sessionOutput)
      .where(eq(sessionOutput.sessionId, id))
    expect(Number(stored!.bytes)).toBeLessThanOrEqual(MB)
    const [row] = await server.ctx.db
      .select({ bytes: sessions.outputBytes, dropped: sessions.outputDroppedBytes })
      .from(sessions)
      .where(eq(sessions.id, id))
    expect(row!.bytes).toBeLessThanOrEqual(MB)

    const output = await allOutput(id)
    const [notice, ...rest] = output
    expect(notice!.stream).toBe('system')
    expect(notice!.event).toMatchObject({ kind: 'output_dropped', limit_bytes: MB })
    expect(notice!.event.dropped_bytes).toBe(row!.dropped)
    expect(notice!.event.dropped_bytes).toBeGreaterThanOrEqual(3 * MB)
    expect(notice!.data).toMatch(
      /^Earlier output \(\d+(\.\d)? MB\) was dropped to keep this session under its 1 MB limit$/,
    )
    // What is left is the newest output, contiguous up to the last record sent.
    const seqs = rest.map((r) => r.seq)
    expect(seqs.at(-1)).toBe(5 * PER_FRAME - 1)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => notice!.seq + 1 + i))
    expect(rest.every((r) => r.data === RECORD)).toBe(true)

    // A resend of a frame that was dropped (its receipt lost, say) is not stored again.
    await sendFrame(id, 0)
    const again = await allOutput(id)
    expect(again.map((r) => r.seq)).toEqual(output.map((r) => r.seq))
  }, 60_000)
})
