// What the channel refuses or repairs so that one bad frame can neither exhaust the server nor
// leave a permanent gap: oversized frames on both transports, and NUL in CLI output.
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { MAX_FRAME_BYTES } from '../../protocol/index.ts'
import { FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { agentCommands, sessionOutput, sessions } from '../db/schema/index.ts'

const world = useTestServer({ listen: true, env: { AGENT_LONG_POLL_TIMEOUT_MS: '300' } })

async function machineWithSession() {
  const m = await registerMachine(world.server.request, world.admin)
  const [session] = await world.server.ctx.db
    .insert(sessions)
    .values({ tenantId: 1, userId: 1, remoteMachineId: m.machineId, projectPath: '/w', cliTool: 'generic' })
    .returning()
  return { ...m, sessionId: session!.id }
}

/** A WebSocket agent for the machine, past its welcome. */
async function connected(m: { agentToken: string; machineId: string }): Promise<FakeAgent> {
  const agent = await FakeAgent.connectTo(world.server.url, m)
  return agent
}

describe('agent channel limits', () => {
  test('a long-poll body over the frame limit is a 413 and stores nothing', async () => {
    const m = await machineWithSession()
    const big = 'x'.repeat(MAX_FRAME_BYTES)
    const res = await fetch(`${world.server.url}/api/remote/agent/message`, {
      method: 'POST',
      headers: { authorization: `Bearer ${m.agentToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        events: [
          {
            type: 'session.output',
            session_id: m.sessionId,
            records: [{ seq: 0, stream: 'stdout', data: big, ts: new Date().toISOString() }],
          },
        ],
        wait: false,
      }),
    })
    expect(res.status).toBe(413)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('payload_too_large')
    const rows = await world.server.ctx.db
      .select()
      .from(sessionOutput)
      .where(eq(sessionOutput.sessionId, m.sessionId))
    expect(rows).toEqual([])
  })

  test('a WebSocket message over the frame limit closes that socket (1009); the agent may reconnect', async () => {
    const m = await machineWithSession()
    const agent = await connected(m)
    await agent.send('x'.repeat(MAX_FRAME_BYTES + 1))
    await waitUntil(() => agent.closeCode !== undefined, { what: 'close', timeoutMs: 5000 })
    expect(agent.closeCode).toBe(1009)
    const again = await connected(m)
    await again.close()
  })

  test('NUL in CLI output is stored as U+FFFD instead of failing the frame forever', async () => {
    const m = await machineWithSession()
    const agent = await connected(m)
    await agent.send({
      type: 'session.output',
      id: 'nul-frame',
      session_id: m.sessionId,
      records: [
        {
          seq: 0,
          stream: 'stdout',
          data: 'a\u0000b',
          ts: new Date().toISOString(),
          event: { kind: 'assistant_text', text: 'x\u0000y' },
        },
      ],
    })
    await waitUntil(() => agent.frames.find((f) => f.type === 'received' && f.ids.includes('nul-frame')), {
      what: 'received',
      timeoutMs: 5000,
    })
    const [row] = await world.server.ctx.db
      .select()
      .from(sessionOutput)
      .where(eq(sessionOutput.sessionId, m.sessionId))
    expect(row?.data).toBe('a\uFFFDb')
    expect(row?.event).toEqual({ kind: 'assistant_text', text: 'x\uFFFDy' })
    expect(agent.errors).toEqual([])
    await agent.close()
  })
})

describe('lost wake-ups', () => {
  test('a command queued without its NOTIFY (database reconnecting) goes out with the next heartbeat', async () => {
    const m = await machineWithSession()
    const agent = await connected(m)
    const [row] = await world.server.ctx.db
      .insert(agentCommands)
      .values({ machineId: m.machineId, kind: 'fs.list', payload: { request_id: 'quiet-1', path: '/' } })
      .returning()
    await Bun.sleep(100)
    expect(agent.commands.some((c) => c.id === row!.id)).toBe(false)
    await agent.send({ type: 'heartbeat', sessions: [] })
    await waitUntil(() => agent.commands.find((c) => c.id === row!.id), {
      what: 'the quiet command',
      timeoutMs: 5000,
    })
    await agent.close()
  })
})
