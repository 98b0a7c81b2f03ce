// The admin views' live streams (machines, sessions, usage): what each reader hears, that a
// registration token can be followed to its machine's coming online, and that a stream whose
// reader lost access ends with `access.revoked`.
import { describe, expect, test } from 'bun:test'
import { FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, useTestServer } from '../../test/support/server.ts'
import { type SseEvent, SseParser } from '../../test/support/sse.ts'
import { flushUsage, recordUsage } from '../quota/ledger.ts'

/** An open stream read event by event: next() waits for the first event that matches. */
class Stream {
  private readonly parser = new SseParser()
  private readonly seen: SseEvent[] = []
  private readonly reader: ReadableStreamDefaultReader<string>
  ended = false

  constructor(res: Response) {
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toContain('text/event-stream')
    this.reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  }

  /** Events so far (consumed or not). */
  get all(): SseEvent[] {
    return this.seen
  }

  async next(match: (event: SseEvent, data: Record<string, unknown>) => boolean, timeoutMs = 5000) {
    const deadline = Date.now() + timeoutMs
    for (let index = 0; ; index++) {
      while (index >= this.seen.length) {
        if (this.ended) throw new Error('stream ended')
        const left = deadline - Date.now()
        if (left <= 0) throw new Error(`no matching event; saw ${JSON.stringify(this.seen)}`)
        const read = await Promise.race([this.reader.read(), Bun.sleep(left).then(() => 'timeout' as const)])
        if (read === 'timeout') continue
        if (read.done) this.ended = true
        else this.seen.push(...this.parser.push(read.value))
      }
      const event = this.seen[index]!
      if (match(event, JSON.parse(event.data))) {
        this.seen.splice(0, index + 1)
        return { event, data: JSON.parse(event.data) as Record<string, unknown> }
      }
    }
  }

  close() {
    void this.reader.cancel().catch(() => {})
  }
}

const open = async (path: string, cookie: string) => new Stream(await world.server.request(path, { cookie }))
const changed = (kind: string, id: string | number) => (e: SseEvent, d: Record<string, unknown>) =>
  e.event === 'changed' && d.kind === kind && (d.ids as unknown[]).includes(id)

const world = useTestServer({ listen: true })

describe('GET /api/remote/machines/events', () => {
  test('follows a registration token: registered with its id, then online', async () => {
    const stream = await open('/api/remote/machines/events', world.admin)
    await stream.next((e) => e.event === 'ready')
    const tokenRes = await world.server.request('/api/remote/machines/register', {
      method: 'POST',
      cookie: world.admin,
      json: { tenant_id: 1 },
    })
    const token = (await tokenRes.json()) as { registration_token: string; registration_id: string }
    expect(token.registration_id).toMatch(/^[0-9a-f]{24}$/)
    expect(token.registration_token).not.toContain(token.registration_id)
    const reg = await registerMachine(world.server.request, world.admin)
    const other = await stream.next((e, d) => e.event === 'changed' && d.kind === 'registered')
    // registerMachine made its own token: that machine is not the one this token made.
    expect(other.data.registration_id).not.toBe(token.registration_id)
    expect(other.data.ids).toEqual([reg.machineId])
    const machineId = crypto.randomUUID()
    const res = await world.server.request('/api/remote/agent/register', {
      method: 'POST',
      json: {
        registration_token: token.registration_token,
        machine_id: machineId,
        machine_name: 'followed',
        hostname: 'followed-host',
        os_type: 'linux',
        os_version: '6.1',
        capabilities: {},
        agent_version: '0.0.0-test',
      },
    })
    const { agent_token } = (await res.json()) as { agent_token: string }
    const registered = await stream.next((e, d) => e.event === 'changed' && d.kind === 'registered')
    expect(registered.data).toEqual({
      topic: 'machines',
      kind: 'registered',
      ids: [machineId],
      registration_id: token.registration_id,
    })
    const agent = new FakeAgent({
      url: world.server.url,
      token: agent_token,
      machineId,
      transport: 'websocket',
    })
    await agent.connect()
    await stream.next(changed('presence', machineId))
    const machine = await world.server.request(`/api/remote/machines/${machineId}`, { cookie: world.admin })
    expect(((await machine.json()) as { machine: { status: string } }).machine.status).toBe('online')
    await agent.close()
    stream.close()
  })

  test('a plain user hears only of machines assigned to them, and of being unassigned', async () => {
    const user = await createUser(world.server, world.admin, 'mia')
    const mine = await registerMachine(world.server.request, world.admin, { name: 'mine' })
    const theirs = await registerMachine(world.server.request, world.admin, { name: 'theirs' })
    const stream = await open('/api/remote/machines/events', user.cookie)
    await stream.next((e) => e.event === 'ready')
    const assign = (machineId: string) =>
      world.server.request(`/api/remote/machines/${machineId}/assign`, {
        method: 'POST',
        cookie: world.admin,
        json: { user_id: user.id },
      })
    expect((await assign(mine.machineId)).status).toBe(200)
    await stream.next(changed('assignment', mine.machineId))
    const settings = (machineId: string) =>
      world.server.request(`/api/remote/machines/${machineId}/settings`, {
        method: 'PATCH',
        cookie: world.admin,
        json: { required_isolation: 'none' },
      })
    expect((await settings(theirs.machineId)).status).toBe(200)
    expect((await settings(mine.machineId)).status).toBe(200)
    // Changes come in order: the other machine's change, made first, was not sent.
    const next = await stream.next((e) => e.event === 'changed')
    expect(next.data).toEqual({ topic: 'machines', kind: 'settings', ids: [mine.machineId] })
    const unassign = await world.server.request(`/api/remote/machines/${mine.machineId}/assign/${user.id}`, {
      method: 'DELETE',
      cookie: world.admin,
    })
    expect(unassign.status).toBe(200)
    // The unassignment reaches them (their refetch drops the machine), then its later changes do not.
    await stream.next(changed('assignment', mine.machineId))
    expect((await settings(mine.machineId)).status).toBe(200)
    expect((await assign(theirs.machineId)).status).toBe(200)
    const after = await stream.next((e) => e.event === 'changed')
    expect(after.data).toEqual({ topic: 'machines', kind: 'assignment', ids: [theirs.machineId] })
    stream.close()
  })

  test('a disabled reader’s stream ends with access.revoked', async () => {
    const user = await createUser(world.server, world.admin, 'dana')
    const stream = await open('/api/remote/machines/events', user.cookie)
    await stream.next((e) => e.event === 'ready')
    const res = await world.server.request(`/api/users/${user.id}`, {
      method: 'PATCH',
      cookie: world.admin,
      json: { status: 'disabled' },
    })
    expect(res.status).toBe(200)
    const last = await stream.next((e) => e.event === 'access.revoked')
    expect(last.data.reason).toBe('user_disabled')
    await expect(stream.next(() => true, 2000)).rejects.toThrow('stream ended')
  })

  test('without a session it is a 401, like the list', async () => {
    const res = await world.server.request('/api/remote/machines/events')
    expect(res.status).toBe(401)
  })
})

describe('GET /api/remote/sessions/events', () => {
  test("the owner hears of their session's creation and status; another user does not", async () => {
    const owner = await createUser(world.server, world.admin, 'olga')
    const stranger = await createUser(world.server, world.admin, 'sven')
    const reg = await registerMachine(world.server.request, world.admin, { name: 'sessions-box' })
    for (const u of [owner, stranger])
      await world.server.request(`/api/remote/machines/${reg.machineId}/assign`, {
        method: 'POST',
        cookie: world.admin,
        json: { user_id: u.id },
      })
    const agent = await FakeAgent.connectTo(world.server.url, reg)
    const mine = await open('/api/remote/sessions/events', owner.cookie)
    const theirs = await open('/api/remote/sessions/events', stranger.cookie)
    const adminStream = await open('/api/remote/sessions/events', world.admin)
    for (const s of [mine, theirs, adminStream]) await s.next((e) => e.event === 'ready')
    const created = await world.server.request('/api/remote/sessions', {
      method: 'POST',
      cookie: owner.cookie,
      json: { machine_id: reg.machineId, project_path: '/work/project' },
    })
    expect(created.status).toBe(201)
    const id = ((await created.json()) as { session: { session_id: string } }).session.session_id
    await mine.next(changed('created', id))
    await adminStream.next(changed('created', id))
    await agent.send({ type: 'session.started', session_id: id, cli_session_id: 'cli-1' })
    await mine.next(changed('status', id))
    await agent.send({
      type: 'session.output',
      session_id: id,
      records: [{ seq: 0, stream: 'stdout', data: 'hello', ts: new Date().toISOString() }],
    })
    await mine.next(changed('activity', id))
    // The stranger's own session is the marker: nothing about the owner's came before it.
    const own = await world.server.request('/api/remote/sessions', {
      method: 'POST',
      cookie: stranger.cookie,
      json: { machine_id: reg.machineId, project_path: '/work/other' },
    })
    const ownId = ((await own.json()) as { session: { session_id: string } }).session.session_id
    const first = await theirs.next((e) => e.event === 'changed')
    expect(first.data.ids).toEqual([ownId])
    for (const s of [mine, theirs, adminStream]) s.close()
    await agent.close()
  })
})

describe('GET /api/usage/events', () => {
  test('a user hears of their own usage; a system admin of everyone’s', async () => {
    const a = await createUser(world.server, world.admin, 'ulla')
    const b = await createUser(world.server, world.admin, 'ugo')
    const streamA = await open('/api/usage/events', a.cookie)
    const adminStream = await open('/api/usage/events', world.admin)
    for (const s of [streamA, adminStream]) await s.next((e) => e.event === 'ready')
    const use = async (userId: number) => {
      recordUsage(world.server.ctx, {
        ts: new Date(),
        userId,
        tenantId: 1,
        sessionId: null,
        machineId: null,
        provider: 'openai',
        model: 'm',
        apiKeyId: null,
        inputTokens: 10,
        outputTokens: 5,
        requests: 1,
        latencyMs: 1,
        status: 200,
      })
      await flushUsage(world.server.ctx)
    }
    await use(b.id)
    await adminStream.next(changed('recorded', b.id))
    await use(a.id)
    const first = await streamA.next((e) => e.event === 'changed')
    expect(first.data.ids).toEqual([a.id])
    await adminStream.next(changed('recorded', a.id))
    streamA.close()
    adminStream.close()
  })
})
