// The long-poll transport: immediate answers, waiting polls woken by a queued command, the
// timeout, per-event errors, redelivery after a hello, and revocation of a waiting poll.
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { LongPollResponse } from '../../protocol/index.ts'
import { FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { remoteMachines } from '../db/schema/index.ts'
import { queueCommand } from './commands.ts'

/** Long enough that "at once" (well under it) holds on a loaded machine, short enough to wait out. */
const POLL_TIMEOUT_MS = 1500

const world = useTestServer({
  env: { AGENT_LONG_POLL_TIMEOUT_MS: String(POLL_TIMEOUT_MS) },
  timeoutMs: 60_000,
})

function poll(token: string, body: unknown) {
  return world.server.request('/api/remote/agent/message', {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
    json: body,
  })
}

/** The hello a fake agent of `machineId` says, to post by hand. */
const helloOf = (machineId: string) =>
  new FakeAgent({ url: '', token: '', machineId, transport: 'long_poll' }).hello()

const fsList = (path = '/') => ({ type: 'fs.list' as const, request_id: crypto.randomUUID(), path })

describe('agent long-poll', () => {
  test('answers at once when a command is pending; marks the machine online over long_poll', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const queued = await queueCommand(world.server.ctx, m.machineId, fsList())
    const started = performance.now()
    const res = await poll(m.agentToken, { events: [] })
    expect(res.status).toBe(200)
    const body = (await res.json()) as LongPollResponse
    expect(body.commands).toEqual([queued])
    expect(performance.now() - started).toBeLessThan(POLL_TIMEOUT_MS)
    const [row] = await world.server.ctx.db
      .select()
      .from(remoteMachines)
      .where(eq(remoteMachines.machineId, m.machineId))
    expect(row).toMatchObject({ status: 'online', connected: true, transport: 'long_poll' })
  })

  test('a waiting poll is answered as soon as a command is queued', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const pending = poll(m.agentToken, { events: [] })
    await Bun.sleep(50)
    const queued = await queueCommand(world.server.ctx, m.machineId, fsList('/srv'))
    const body = (await (await pending).json()) as LongPollResponse
    expect(body.commands.map((c) => c.id)).toEqual([queued.id])
  })

  test('with nothing to do it answers empty after the poll timeout; wait:false answers at once', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const started = performance.now()
    const body = (await (await poll(m.agentToken, { events: [] })).json()) as LongPollResponse
    expect(body.commands).toEqual([])
    expect(performance.now() - started).toBeGreaterThanOrEqual(POLL_TIMEOUT_MS - 20)
    const quick = performance.now()
    await poll(m.agentToken, { events: [], wait: false })
    expect(performance.now() - quick).toBeLessThan(POLL_TIMEOUT_MS)
  })

  test('each event is checked on its own: bad ones get errors, good ones count', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const hello = helloOf(m.machineId)
    const res = await poll(m.agentToken, {
      events: ['{broken', { type: 'nope', id: 'x1' }, 42, { ...hello, id: 'h1' }],
      wait: false,
    })
    expect(res.status).toBe(200)
    const { replies } = (await res.json()) as LongPollResponse
    expect(replies.filter((r) => r.type === 'error').map((r) => r.type === 'error' && r.code)).toEqual([
      'malformed',
      'unknown_type',
      'malformed',
    ])
    expect(replies.find((r) => r.type === 'welcome')).toMatchObject({
      machine_id: m.machineId,
      heartbeat_interval_seconds: 30,
    })
    expect(replies.find((r) => r.type === 'received')).toEqual({ type: 'received', ids: ['h1'] })
  })

  test('a body that is not the envelope is a 400 naming the field', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const res = await poll(m.agentToken, { events: 'nope' })
    expect(res.status).toBe(400)
    expect((await res.json()).error.field).toBe('events')
  })

  test('unacked commands come again after a hello (agent restart), acked ones never', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const a = await queueCommand(world.server.ctx, m.machineId, fsList('/a'))
    const b = await queueCommand(world.server.ctx, m.machineId, fsList('/b'))
    const first = (await (await poll(m.agentToken, { events: [], wait: false })).json()) as LongPollResponse
    expect(first.commands.map((c) => c.id)).toEqual([a.id, b.id])
    await poll(m.agentToken, { events: [{ type: 'ack', command_ids: [a.id] }], wait: false })
    const plain = (await (await poll(m.agentToken, { events: [], wait: false })).json()) as LongPollResponse
    expect(plain.commands).toEqual([])
    const hello = helloOf(m.machineId)
    const again = (await (
      await poll(m.agentToken, { events: [hello], wait: false })
    ).json()) as LongPollResponse
    expect(again.commands.map((c) => c.id)).toEqual([b.id])
  })

  test('revoking the token answers a waiting poll with 401 and a goodbye; the fake agent stops', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const agent = await FakeAgent.connectTo(world.server.url, m, {
      transport: 'long_poll',
      fetch: (url, init) => world.server.app.handle(new Request(url, init)),
    })
    await Bun.sleep(30)
    const started = performance.now()
    const res = await world.server.request(`/api/remote/machines/${m.machineId}/token/revoke`, {
      method: 'POST',
      cookie: world.admin,
    })
    expect(res.status).toBe(200)
    await waitUntil(() => agent.stopped, { what: 'stop', timeoutMs: 2000 })
    expect(performance.now() - started).toBeLessThan(POLL_TIMEOUT_MS)
    expect(agent.refusedStatus).toBe(401)
    expect(agent.goodbye?.reason).toBe('revoked')
    const after = await poll(m.agentToken, { events: [] })
    expect(after.status).toBe(401)
    expect((await after.json()).goodbye.reason).toBe('revoked')
  })

  test('a missing or unknown token is 401 invalid_token', async () => {
    const res = await world.server.request('/api/remote/agent/message', {
      method: 'POST',
      json: { events: [] },
    })
    expect(res.status).toBe(401)
    expect((await res.json()).goodbye.reason).toBe('invalid_token')
  })
})
