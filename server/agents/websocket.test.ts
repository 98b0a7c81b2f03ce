// The WebSocket transport against a listening server: delivery and acks, redelivery after a
// reconnect, malformed frames, output dedup, binding, presence, and revocation of a live socket.
import { describe, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { CLOSE_GOODBYE, type Command } from '../../protocol/index.ts'
import { closeAgents, FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { agentCommands, auditLog, remoteMachines, sessionOutput, sessions } from '../db/schema/index.ts'
import { type SessionEvent, subscribeSessionEvents } from '../sessions/events.ts'
import { queueCommand } from './commands.ts'
import { sweepSilentMachines } from './presence.ts'
import { awaitCommandResult } from './results.ts'

const agents: FakeAgent[] = []

const world = useTestServer({
  listen: true,
  env: { AGENT_OFFLINE_GRACE_MS: '0' },
  timeoutMs: 60_000,
  beforeStop: () => closeAgents(agents),
})

async function newSession(machineId: string) {
  const [row] = await world.server.ctx.db
    .insert(sessions)
    .values({
      tenantId: 1,
      userId: 1,
      remoteMachineId: machineId,
      projectPath: '/tmp',
      cliTool: 'qwen-code-cli',
    })
    .returning()
  return row!
}

async function connect(m: { machineId: string; agentToken: string }, options: { autoAck?: boolean } = {}) {
  const agent = await FakeAgent.connectTo(world.server.url, m, { ...options, track: agents })
  return agent
}

async function connected(options: { autoAck?: boolean } = {}) {
  const m = await registerMachine(world.server.request, world.admin)
  return { ...m, agent: await connect(m, options) }
}

const machineRow = async (id: string) =>
  (await world.server.ctx.db.select().from(remoteMachines).where(eq(remoteMachines.machineId, id)))[0]!
const commandRow = async (id: string) =>
  (await world.server.ctx.db.select().from(agentCommands).where(eq(agentCommands.id, id)))[0]!

describe('agent websocket', () => {
  test('a queued command arrives at once and is acked by id', async () => {
    const { machineId, agent } = await connected()
    const session = await newSession(machineId)
    const queued = await queueCommand(world.server.ctx, machineId, {
      type: 'session.input',
      session_id: session.id,
      message_id: 'm1',
      content: 'hello',
    })
    expect(await agent.waitForCommand('session.input')).toEqual(queued)
    await waitUntil(async () => (await commandRow(queued.id)).status === 'acked', { what: 'ack' })
  })

  test('commands queued back to back reach the agent once each, in queue order', async () => {
    const { machineId, agent } = await connected()
    const queued: Command[] = []
    for (let i = 0; i < 20; i++)
      queued.push(
        await queueCommand(world.server.ctx, machineId, { type: 'fs.list', request_id: `o${i}`, path: '/' }),
      )
    await agent.waitFor(() => queued.every((q) => agent.commands.some((c) => c.id === q.id)), 5000, 'all')
    await waitUntil(
      async () => (await Promise.all(queued.map((q) => commandRow(q.id)))).every((r) => r.status === 'acked'),
      { what: 'every ack written' },
    )
    const seen = agent.commands.filter((c) => queued.some((q) => q.id === c.id)).map((c) => c.id)
    expect(seen).toEqual(queued.map((q) => q.id))
  })

  test('a command not acked is delivered again after a reconnect, then never again once acked', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const first = await connect(m, { autoAck: false })
    const cmd = await queueCommand(world.server.ctx, m.machineId, {
      type: 'fs.list',
      request_id: 'r1',
      path: '/',
    })
    await first.waitForCommand('fs.list')
    await waitUntil(async () => (await commandRow(cmd.id)).status === 'delivered', { what: 'delivery mark' })
    await first.close()
    const second = await connect(m)
    expect((await second.waitForCommand('fs.list')).id).toBe(cmd.id)
    await waitUntil(async () => (await commandRow(cmd.id)).status === 'acked', { what: 'ack' })
    await second.close()
    const third = await connect(m)
    await Bun.sleep(100)
    expect(third.commands).toHaveLength(0)
  })

  test('malformed and unknown frames get an error frame; the channel stays up', async () => {
    const { machineId, agent } = await connected()
    await agent.send('this is not json')
    await agent.send({ type: 'warp.drive', id: 'f1' })
    await agent.send({ type: 'session.output', id: 'f2', session_id: 'x', records: [{ seq: 'one' }] })
    await waitUntil(() => agent.errors.length >= 3, { what: 'three errors', timeoutMs: 3000 })
    expect(agent.errors.map((e) => e.code)).toEqual(['malformed', 'unknown_type', 'malformed'])
    expect(agent.errors[1]!.ref).toBe('f1')
    expect(agent.errors[2]!.message).toContain('/records/0')
    await queueCommand(world.server.ctx, machineId, { type: 'fs.list', request_id: 'r2', path: '/home' })
    expect((await agent.waitForCommand('fs.list')).type).toBe('fs.list')
  })

  test('output is stored once per (session, seq); watchers see each record once', async () => {
    const { machineId, agent } = await connected()
    const session = await newSession(machineId)
    const seen: SessionEvent[] = []
    const unsubscribe = await subscribeSessionEvents(world.server.ctx, session.id, (e) => seen.push(e))
    const rec = (seq: number) => ({
      seq,
      stream: 'stdout' as const,
      data: `line ${seq}`,
      ts: new Date().toISOString(),
    })
    await agent.send({ type: 'session.output', id: 'b1', session_id: session.id, records: [rec(0), rec(1)] })
    await agent.send({
      type: 'session.output',
      id: 'b2',
      session_id: session.id,
      records: [rec(0), rec(1), rec(2)],
    })
    await waitUntil(() => agent.frames.some((f) => f.type === 'received' && f.ids.includes('b2')), {
      what: 'receipt',
      timeoutMs: 3000,
    })
    const rows = await world.server.ctx.db
      .select()
      .from(sessionOutput)
      .where(eq(sessionOutput.sessionId, session.id))
    expect(rows.map((r) => r.seq).sort()).toEqual([0, 1, 2])
    await waitUntil(() => seen.flatMap((e) => (e.type === 'output' ? e.records : [])).length === 3, {
      what: 'events',
    })
    await Bun.sleep(50)
    const seqs = seen.flatMap((e) => (e.type === 'output' ? e.records.map((r) => r.seq) : []))
    expect(seqs).toEqual([0, 1, 2])
    unsubscribe()
  })

  test("machine A's agent writing to machine B's session is refused and audited", async () => {
    const a = await connected()
    const b = await registerMachine(world.server.request, world.admin)
    const theirs = await newSession(b.machineId)
    await a.agent.send({
      type: 'session.output',
      id: 'evil',
      session_id: theirs.id,
      records: [{ seq: 0, stream: 'stdout', data: 'injected', ts: new Date().toISOString() }],
    })
    await a.agent.send({ type: 'session.exited', session_id: theirs.id, exit_code: 0 })
    await waitUntil(() => a.agent.errors.length >= 2, { what: 'refusals', timeoutMs: 3000 })
    expect(a.agent.errors.map((e) => e.code)).toEqual(['forbidden', 'forbidden'])
    expect(a.agent.errors[0]!.ref).toBe('evil')
    expect(
      await world.server.ctx.db.select().from(sessionOutput).where(eq(sessionOutput.sessionId, theirs.id)),
    ).toHaveLength(0)
    const [row] = await world.server.ctx.db.select().from(sessions).where(eq(sessions.id, theirs.id))
    expect(row!.status).toBe('starting')
    const audit = await world.server.ctx.db
      .select()
      .from(auditLog)
      .where(and(eq(auditLog.event, 'agent.binding_violation'), eq(auditLog.targetId, theirs.id)))
    expect(audit).toHaveLength(2)
    expect(audit[0]).toMatchObject({ outcome: 'denied', actorType: 'agent', actorId: a.machineId })
  })

  test('hello claiming another machine id is refused', async () => {
    const { agent } = await connected()
    await agent.send({ ...agent.hello(), machine_id: 'someone-else' })
    expect((await agent.waitForFrame('error')).code).toBe('forbidden')
  })

  test('session.started / session.exited move the session and announce it', async () => {
    const { machineId, agent } = await connected()
    const session = await newSession(machineId)
    const seen: SessionEvent[] = []
    await subscribeSessionEvents(world.server.ctx, session.id, (e) => seen.push(e))
    await agent.send({ type: 'session.started', session_id: session.id, cli_session_id: 'cli-1' })
    await agent.send({ type: 'session.started', session_id: session.id })
    await agent.send({ type: 'session.exited', session_id: session.id, exit_code: 0 })
    await waitUntil(() => seen.length === 2, { what: 'status events' })
    expect(seen.map((e) => (e.type === 'status' ? e.status : e.type))).toEqual(['active', 'stopped'])
    const [row] = await world.server.ctx.db.select().from(sessions).where(eq(sessions.id, session.id))
    expect(row).toMatchObject({ status: 'stopped', cliSessionId: 'cli-1' })
    expect(row!.endedAt).toBeInstanceOf(Date)
  })

  test('a heartbeat listing a session as exited ends it, but only on its own machine', async () => {
    const { machineId, agent } = await connected()
    const other = await registerMachine(world.server.request, world.admin)
    const mine = await newSession(machineId)
    const theirs = await newSession(other.machineId)
    // A running session (a starting one has no process yet whose exit could be reported).
    await agent.send({ type: 'session.started', session_id: mine.id })
    await agent.send({
      type: 'heartbeat',
      id: 'hb',
      sessions: [
        { session_id: mine.id, state: 'exited' },
        { session_id: theirs.id, state: 'exited' },
      ],
    })
    await waitUntil(() => agent.frames.some((f) => f.type === 'received' && f.ids.includes('hb')), {
      what: 'receipt',
      timeoutMs: 3000,
    })
    const status = async (id: string) =>
      (await world.server.ctx.db.select().from(sessions).where(eq(sessions.id, id)))[0]!.status
    expect(await status(mine.id)).toBe('stopped')
    expect(await status(theirs.id)).toBe('starting')
  })

  test('queueing for a removed machine is refused', async () => {
    const { machineId } = await registerMachine(world.server.request, world.admin)
    await world.server.request(`/api/remote/machines/${machineId}`, { method: 'DELETE', cookie: world.admin })
    await expect(
      queueCommand(world.server.ctx, machineId, { type: 'fs.list', request_id: 'x', path: '/' }),
    ).rejects.toThrow('Machine not found')
  })
})

describe('file browsing through the agent', () => {
  test('browse queues fs.list and answers with the fs.result the agent sends', async () => {
    const { machineId, agent } = await connected()
    const browsing = world.server.request(`/api/remote/machines/${machineId}/browse?path=/srv`, {
      cookie: world.admin,
    })
    const cmd = await agent.waitForCommand('fs.list')
    expect(cmd.type === 'fs.list' && cmd.path).toBe('/srv')
    await agent.send({
      type: 'fs.result',
      request_id: cmd.type === 'fs.list' ? cmd.request_id : '',
      path: '/srv',
      entries: [{ name: 'app', type: 'dir' }],
    })
    const res = await browsing
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ path: '/srv', entries: [{ name: 'app', type: 'dir' }] })
  })

  test("an agent error is a 400 naming path; another machine's request id is refused", async () => {
    const { machineId, agent } = await connected()
    const other = await connected()
    const browsing = world.server.request(`/api/remote/machines/${machineId}/browse`, { cookie: world.admin })
    const cmd = await agent.waitForCommand('fs.list')
    const requestId = cmd.type === 'fs.list' ? cmd.request_id : ''
    expect(cmd.type === 'fs.list' && cmd.path).toBe('~')
    await other.agent.send({ type: 'fs.result', request_id: requestId, path: '~', entries: [] })
    expect((await other.agent.waitForFrame('error')).code).toBe('not_found')
    await agent.send({ type: 'fs.result', request_id: requestId, path: '~', error: 'permission denied' })
    const res = await browsing
    expect(res.status).toBe(400)
    expect((await res.json()).error).toMatchObject({
      field: 'path',
      message: 'Cannot list ~: permission denied',
    })
  })

  test('an unanswered request gives up after its timeout and drops the command', async () => {
    const { machineId } = await connected({ autoAck: false })
    const cmd = await queueCommand(world.server.ctx, machineId, {
      type: 'fs.list',
      request_id: 'slow',
      path: '/',
    })
    expect(await awaitCommandResult(world.server.ctx, cmd.id, 50)).toBeNull()
    expect(
      await world.server.ctx.db.select().from(agentCommands).where(eq(agentCommands.id, cmd.id)),
    ).toHaveLength(0)
  })
})

describe('presence', () => {
  test('online while the socket is open, offline once it closes (grace 0)', async () => {
    const { machineId, agent } = await connected()
    expect(await machineRow(machineId)).toMatchObject({
      status: 'online',
      connected: true,
      transport: 'websocket',
    })
    await agent.send({ type: 'heartbeat', system_info: { load: 0.5 }, sessions: [] })
    await waitUntil(async () => (await machineRow(machineId)).systemInfo.load === 0.5, {
      what: 'heartbeat stored',
    })
    await agent.close()
    await waitUntil(async () => (await machineRow(machineId)).status === 'offline', { what: 'offline' })
    expect((await machineRow(machineId)).connected).toBe(false)
  })

  test('an open socket alone is not online: the hello stores capabilities and marks it online together', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const agent = await FakeAgent.connectTo(world.server.url, m, { hello: false, track: agents })
    // The server has handled the open (its agent.connect audit row is written after it).
    await waitUntil(
      async () =>
        (
          await world.server.ctx.db
            .select()
            .from(auditLog)
            .where(and(eq(auditLog.event, 'agent.connect'), eq(auditLog.targetId, m.machineId)))
        ).length > 0,
      { what: 'the open handled' },
    )
    expect(await machineRow(m.machineId)).toMatchObject({ status: 'offline', connected: false })
    await agent.send(agent.hello())
    await agent.waitForFrame('welcome')
    const row = await machineRow(m.machineId)
    expect(row).toMatchObject({ status: 'online', connected: true, transport: 'websocket' })
    expect(row.capabilities).toMatchObject({ max_sessions: FAKE_CAPABILITIES.max_sessions })
  })

  test('a machine silent for 3 heartbeat intervals is swept offline', async () => {
    const { machineId } = await connected()
    const realNow = world.server.ctx.now
    try {
      world.server.ctx.now = () => new Date(Date.now() + 2 * 30_000)
      await sweepSilentMachines(world.server.ctx)
      expect((await machineRow(machineId)).status).toBe('online')
      world.server.ctx.now = () => new Date(Date.now() + 3 * 30_000 + 1000)
      await sweepSilentMachines(world.server.ctx)
      expect((await machineRow(machineId)).status).toBe('offline')
    } finally {
      world.server.ctx.now = realNow
    }
  })
})

describe('revocation', () => {
  test('an immediate rotation cuts the live socket: goodbye, close 4001, then 401 with goodbye', async () => {
    const { machineId, agentToken, agent } = await connected()
    const res = await world.server.request(`/api/remote/machines/${machineId}/token/rotate?immediate=true`, {
      method: 'POST',
      cookie: world.admin,
    })
    expect(res.status).toBe(200)
    const { agent_token } = await res.json()
    expect(agent_token).not.toBe(agentToken)
    const goodbye = await agent.waitForFrame('goodbye')
    expect(goodbye.reason).toBe('revoked')
    await waitUntil(() => agent.closeCode, { what: 'close', timeoutMs: 3000 })
    expect(agent.closeCode).toBe(CLOSE_GOODBYE)
    const retry = await fetch(`${world.server.url}/api/remote/agent/ws`, {
      headers: { authorization: `Bearer ${agentToken}` },
    })
    expect(retry.status).toBe(401)
    expect((await retry.json()).goodbye.reason).toBe('revoked')
    const fresh = await connect({ machineId, agentToken: agent_token })
    expect(fresh.goodbye).toBeUndefined()
  })

  test('deregistering cuts the socket with reason deregistered and ends its sessions', async () => {
    const { machineId, agentToken, agent } = await connected()
    const session = await newSession(machineId)
    const cmd = await queueCommand(world.server.ctx, machineId, {
      type: 'session.stop',
      session_id: session.id,
    })
    await agent.waitForCommand('session.stop')
    expect(cmd.id).toBeString()
    const res = await world.server.request(`/api/remote/machines/${machineId}`, {
      method: 'DELETE',
      cookie: world.admin,
    })
    expect(res.status).toBe(200)
    expect((await agent.waitForFrame('goodbye')).reason).toBe('deregistered')
    const [row] = await world.server.ctx.db.select().from(sessions).where(eq(sessions.id, session.id))
    expect(row!.status).toBe('stopped')
    const poll = await fetch(`${world.server.url}/api/remote/agent/message`, {
      method: 'POST',
      headers: { authorization: `Bearer ${agentToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ events: [] }),
    })
    expect(poll.status).toBe(401)
    expect((await poll.json()).goodbye.reason).toBe('deregistered')
  })

  test('a bad token cannot open a socket (401 at the upgrade)', async () => {
    const agent = new FakeAgent({
      url: world.server.url,
      token: 'f'.repeat(64),
      machineId: 'nobody',
      transport: 'websocket',
    })
    await expect(agent.connect()).rejects.toThrow()
  })
})
