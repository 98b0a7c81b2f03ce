// Hostile agent frames, beyond what server/agents/*.test.ts already covers (malformed JSON,
// unknown types, another machine's session): frames over the size limit, output out of order
// and repeated, records over the per-record limit, batches over the per-poll limit, unknown
// sessions. Each gets an error (or an HTTP 4xx), the channel stays usable, nothing is written
// twice and the stored seqs end up exactly 0..n-1.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import {
  AGENT_MESSAGE_PATH,
  MAX_EVENTS_PER_POLL,
  MAX_FRAME_BYTES,
  MAX_OUTPUT_DATA_CHARS,
} from '../../protocol/index.ts'
import { sessionOutput } from '../../server/db/schema/index.ts'
import { FakeAgent, registerMachine } from '../support/fake-agent.ts'
import { startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'
import { rowCounts, tableNames } from './rows.ts'

let server: TestServer
let admin: string
let agent: FakeAgent
let token: string
let machineId: string

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
  ;({ machineId, agentToken: token } = await registerMachine(server.request, admin))
  agent = new FakeAgent({ url: server.url, token, machineId, transport: 'websocket' })
  await agent.connect()
  await agent.waitForFrame('welcome')
})
afterAll(async () => {
  await agent?.close()
  await server?.stop()
})

async function session(): Promise<string> {
  const res = await server.request('/api/remote/sessions', {
    method: 'POST',
    cookie: admin,
    json: { machine_id: machineId, project_path: '/work/p' },
  })
  expect(res.status).toBe(201)
  const id = ((await res.json()) as { session: { session_id: string } }).session.session_id
  await waitUntil(() => agent.commands.some((c) => c.type === 'session.start' && c.session_id === id), {
    what: "agent.commands.some((c) => c.type === 'session.start' && c.session_...",
  })
  return id
}

const rec = (seq: number, data = `line ${seq}`) => ({
  seq,
  stream: 'stdout',
  data,
  ts: new Date().toISOString(),
})
const received = (id: string) =>
  waitUntil(() => agent.frames.some((f) => f.type === 'received' && f.ids.includes(id)), {
    what: `receipt ${id}`,
    timeoutMs: 5000,
  })
const errorFor = (ref: string) =>
  waitUntil(() => agent.errors.find((e) => e.ref === ref), { what: `error ${ref}`, timeoutMs: 5000 })

describe('hostile agent frames', () => {
  test('output out of order and repeated is stored once per seq; the view reads 0..n-1', async () => {
    const id = await session()
    const batches = [[5, 6], [0, 1], [5, 2], [3, 4, 0], [6]]
    for (const [i, seqs] of batches.entries())
      await agent.send({
        type: 'session.output',
        id: `ooo-${i}`,
        session_id: id,
        records: seqs.map((s) => rec(s)),
      })
    await received(`ooo-${batches.length - 1}`)
    const rows = await server.ctx.db.select().from(sessionOutput).where(eq(sessionOutput.sessionId, id))
    expect(rows.map((r) => r.seq).sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6])
    const view = await server.request(`/api/remote/sessions/${id}`, { cookie: admin })
    const output = ((await view.json()) as { session: { output: { seq: number; data: string }[] } }).session
      .output
    expect(output.map((o) => o.seq)).toEqual([0, 1, 2, 3, 4, 5, 6])
    expect(output.map((o) => o.data)).toEqual(output.map((o) => `line ${o.seq}`))
  })

  test('a frame over the size limit, a record over the data limit and an unknown session are refused; nothing written', async () => {
    const id = await session()
    const other = await registerMachine(server.request, admin)
    const oversized = new FakeAgent({
      url: server.url,
      token: other.agentToken,
      machineId: other.machineId,
      transport: 'websocket',
    })
    await oversized.connect()
    await oversized.waitForFrame('welcome')
    const tables = await tableNames(server)
    const before = await rowCounts(server, tables)
    agent.send({
      type: 'session.output',
      id: 'long',
      session_id: id,
      records: [rec(0, 'y'.repeat(MAX_OUTPUT_DATA_CHARS + 1))],
    })
    agent.send({ type: 'session.output', id: 'nobody', session_id: crypto.randomUUID(), records: [rec(0)] })
    agent.send({ type: 'session.output', id: 'neg', session_id: id, records: [rec(-1)] })
    agent.send({ type: 'ack', id: 'empty-ack', command_ids: [] })
    expect((await errorFor('long')).code).toBe('malformed')
    // An unknown session is refused like another machine's: its existence is not revealed.
    expect(['forbidden', 'not_found']).toContain((await errorFor('nobody')).code)
    expect((await errorFor('neg')).code).toBe('malformed')
    expect((await errorFor('empty-ack')).code).toBe('malformed')
    // A WebSocket message over the frame limit is not read at all: Bun closes that socket (1009).
    // Another machine's agent sends it, so this one's channel stays up for the checks above.
    oversized.send(
      JSON.stringify({
        type: 'session.output',
        id: 'big',
        session_id: id,
        records: [rec(0, 'x'.repeat(MAX_FRAME_BYTES))],
      }),
    )
    await waitUntil(() => oversized.closeCode === 1009, { what: 'oversized frame closes its socket' })
    expect(await rowCounts(server, tables)).toEqual(before)
    expect(agent.errors.map((e) => e.code)).not.toContain('internal')
  })

  test('a NUL in a chat message or a huge quota is a 400 and writes nothing (the database cannot store it)', async () => {
    const id = await session()
    const tables = await tableNames(server)
    const before = await rowCounts(server, tables)
    const nul = await server.request(`/api/remote/sessions/${id}/chat`, {
      method: 'POST',
      cookie: admin,
      json: { content: 'before\u0000after' },
    })
    expect(nul.status).toBe(400)
    expect(((await nul.json()) as { error: { type: string } }).error.type).toBe('invalid_request')
    const quota = await server.request('/api/quotas/tenants/1', {
      method: 'PUT',
      cookie: admin,
      json: { daily_token_limit: 2 ** 64 },
    })
    expect(quota.status).toBe(400)
    expect(await rowCounts(server, tables)).toEqual(before)
    const fine = await server.request(`/api/remote/sessions/${id}/chat`, {
      method: 'POST',
      cookie: admin,
      json: { content: 'fine' },
    })
    expect(fine.status).toBe(200)
  })

  test('long-poll: a batch over the event limit is a 4xx, a huge body no 5xx; each bad event gets its error', async () => {
    const post = (body: string) =>
      fetch(`${server.url}${AGENT_MESSAGE_PATH}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body,
      })
    const tables = await tableNames(server)
    const before = await rowCounts(server, tables)
    const tooMany = Array.from({ length: MAX_EVENTS_PER_POLL + 1 }, () => ({
      type: 'heartbeat',
      sessions: [],
    }))
    const many = await post(JSON.stringify({ events: tooMany, wait: false }))
    expect(many.status).toBeGreaterThanOrEqual(400)
    expect(many.status).toBeLessThan(500)
    const huge = await post(
      JSON.stringify({ events: [{ type: 'heartbeat', pad: 'z'.repeat(MAX_FRAME_BYTES) }], wait: false }),
    )
    // Not refused today (no body limit on this route, see the chaos report); never a 5xx.
    expect(huge.status).toBeLessThan(500)
    const mixed = await post(
      JSON.stringify({
        events: [
          'not a frame',
          { type: 'no.such' },
          { type: 'session.output', id: 'x', session_id: 'bad id!', records: [] },
        ],
        wait: false,
      }),
    )
    expect(mixed.status).toBe(200)
    const { replies } = (await mixed.json()) as { replies: { type: string; code?: string }[] }
    expect(replies.filter((r) => r.type === 'error').map((r) => r.code)).toEqual([
      'malformed',
      'unknown_type',
      'malformed',
    ])
    expect(await rowCounts(server, tables)).toEqual(before)
  })
})
