// Live output over SSE: records in order, resumed after Last-Event-ID, status changes pushed.
import { describe, expect, test } from 'bun:test'
import { reply, withCookie } from '../../test/support/client.ts'
import { readSse } from '../../test/support/sse.ts'
import { client, newSession, output, owner, server, started, useSessionWorld } from './session-test-world.ts'

useSessionWorld()

describe('live output over SSE', () => {
  test('streams records in order and resumes after Last-Event-ID without repeats', async () => {
    const { id } = await newSession()
    await started(id)
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
    const { id } = await newSession()
    await started(id)
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
