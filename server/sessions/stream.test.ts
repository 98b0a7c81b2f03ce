// Live output over SSE: records in order, resumed after Last-Event-ID, status changes pushed.
import { describe, expect, test } from 'bun:test'
import { reply, withCookie } from '../../test/support/client.ts'
import { readSse } from '../../test/support/sse.ts'
import {
  agent,
  client,
  output,
  owner,
  server,
  startedSession,
  useSessionWorld,
} from './session-test-world.ts'
import { openSessionStream } from './stream.ts'

useSessionWorld()

describe('live output over SSE', () => {
  test('streams records in order and resumes after Last-Event-ID without repeats', async () => {
    const { id } = await startedSession()
    await output(id, 0, 2)
    const res = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: owner.cookie })
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    const reading = readSse(res, (evs) => evs.filter((e) => e.event === 'output').length >= 5)
    await Bun.sleep(50)
    await output(id, 2, 3)
    const first = (await reading).filter((e) => e.event === 'output')
    expect(first.map((e) => Number(e.id))).toEqual([0, 1, 2, 3, 4])
    expect(JSON.parse(first[4]!.data).data).toBe('line 4')

    await output(id, 5, 2)
    const resumed = await server.request(`/api/remote/sessions/${id}/stream`, {
      cookie: owner.cookie,
      headers: { 'last-event-id': '4' },
    })
    const again = (
      await readSse(resumed, (evs) => evs.filter((e) => e.event === 'output').length >= 2)
    ).filter((e) => e.event === 'output')
    expect(again.map((e) => Number(e.id))).toEqual([5, 6])
  })

  test('status changes are pushed as status events', async () => {
    const { id } = await startedSession()
    const res = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: owner.cookie })
    const reading = readSse(res, (evs) =>
      evs.some((e) => e.event === 'status' && JSON.parse(e.data).status === 'paused'),
    )
    await Bun.sleep(50)
    await reply(client.api.remote.sessions({ id }).pause.post(undefined, withCookie(owner.cookie)))
    const events = await reading
    expect(events.filter((e) => e.event === 'status').map((e) => JSON.parse(e.data).status)).toEqual([
      'active',
      'paused',
    ])
  })
})

describe('output told to the stream as it arrives', () => {
  const sseOutput = async (id: string, count: number, after = -1) => {
    const res = await server.request(`/api/remote/sessions/${id}/stream`, {
      cookie: owner.cookie,
      headers: { 'last-event-id': String(after) },
    })
    const events = await readSse(res, (evs) => evs.filter((e) => e.event === 'output').length >= count)
    return events.filter((e) => e.event === 'output').map((e) => ({ id: e.id, data: e.data }))
  }

  test('a reconnect reads exactly what the live stream sent, events included', async () => {
    const { id } = await startedSession()
    const res = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: owner.cookie })
    const reading = readSse(res, (evs) => evs.filter((e) => e.event === 'output').length >= 3)
    await Bun.sleep(50)
    // Keys in an order jsonb does not keep: the live copy must read like the stored one.
    const event = {
      kind: 'tool_use',
      tool_use_id: 't1',
      name: 'Bash',
      input: { zeta: { b: 1, a: [{ yy: 1, x: 2 }] }, cmd: 'ls é' },
    }
    for (let seq = 0; seq < 3; seq++)
      await agent.send({
        type: 'session.output',
        session_id: id,
        records: [{ seq, stream: 'stdout', data: `line ${seq}\u0000`, event, ts: new Date().toISOString() }],
      })
    const live = (await reading).filter((e) => e.event === 'output').map((e) => ({ id: e.id, data: e.data }))
    expect(live.map((e) => Number(e.id))).toEqual([0, 1, 2])
    expect(JSON.parse(live[0]!.data).data).toBe('line 0\uFFFD')
    expect(await sseOutput(id, 3)).toEqual(live)
  })

  test('records arriving while the stream reads its backlog come once each, in seq order', async () => {
    const { id } = await startedSession()
    // More than one page (500) of backlog, so the stream is still reading when more arrive.
    for (let from = 0; from < 700; from += 100) await output(id, from, 100)
    const res = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: owner.cookie })
    const reading = readSse(res, (evs) => evs.filter((e) => e.event === 'output').length >= 760)
    for (let from = 700; from < 760; from += 3) await output(id, from, 3)
    const live = (await reading).filter((e) => e.event === 'output').map((e) => ({ id: e.id, data: e.data }))
    expect(live.map((e) => Number(e.id))).toEqual(Array.from({ length: 760 }, (_, i) => i))
    expect(await sseOutput(id, 60, 699)).toEqual(live.slice(700))
  })

  test('a status change between the first read and the subscription is sent once the stream listens', async () => {
    const { id } = await startedSession()
    const open = (currentStatus: () => Promise<string>) =>
      openSessionStream(server.ctx, {
        sessionId: id,
        after: -1,
        // What the route read before the session became active.
        status: 'starting',
        currentStatus,
        viewer: { userId: owner.id, machineId: null, stillAllowed: async () => true },
      })
    const statuses = async (res: Response) =>
      (await readSse(res, (evs) => evs.filter((e) => e.event === 'status').length >= 2, 1000))
        .filter((e) => e.event === 'status')
        .map((e) => JSON.parse(e.data).status)
    expect(await statuses(await open(async () => 'active'))).toEqual(['starting', 'active'])
    // Unchanged meanwhile: nothing more is sent.
    expect(await statuses(await open(async () => 'starting'))).toEqual(['starting'])
  })
})
