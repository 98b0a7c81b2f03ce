// The run loop driven through createAgent with a fake transport, spawn and clock: WebSocket
// first, long-poll fallback, re-sending unconfirmed output after a reconnect, backoff bounds
// and stopping on a revoked token.
import { describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { SEND_WINDOW } from '../outbox.ts'
import { createTestAgent } from '../test-support/agent-harness.ts'
import { HEALTHY_RESET_MS, WS_RETRY_AFTER_OUTAGE_MS, WS_RETRY_INTERVAL_MS } from './run-loop.ts'

function startCommand(id: string, dir: string): CommandOf<'session.start'> {
  return {
    id,
    type: 'session.start',
    session_id: 'sess-1',
    cli_tool: 'qwen-code',
    model: 'qwen-max',
    project_path: dir,
    proxy_base_url: 'http://server.test/api/remote/llm-proxy',
    proxy_token: 'proxy-token-abcdef',
  }
}

/** A connected agent whose session's CLI is running (started by cmd-1). */
async function connectedWithCli() {
  const t = createTestAgent()
  const done = t.run()
  await waitUntil(() => t.transport.connections.length === 1, {
    what: 't.transport.connections.length === 1',
  })
  t.transport.command(startCommand('cmd-1', t.work))
  await waitUntil(() => t.spawn.children.length === 1, { what: 't.spawn.children.length === 1' })
  return { t, done }
}

describe('run loop', () => {
  test('connects over WebSocket: hello first, then heartbeats and acks', async () => {
    const t = createTestAgent()
    const done = t.run()
    await waitUntil(() => t.transport.framesOf('heartbeat').length >= 2, {
      what: "t.transport.framesOf('heartbeat').length >= 2",
    })
    expect(t.transport.connections).toEqual(['websocket'])
    expect(t.transport.frames[0]?.type).toBe('hello')
    t.transport.command(startCommand('cmd-1', t.work))
    await waitUntil(() => t.transport.framesOf('ack').length === 1, {
      what: "t.transport.framesOf('ack').length === 1",
    })
    expect(t.transport.framesOf('ack')[0]?.command_ids).toEqual(['cmd-1'])
    t.controller.abort()
    expect(await done).toEqual({ reason: 'stopped' })
  })

  test('falls back to long-poll when the WebSocket upgrade is refused, and retries WebSocket later', async () => {
    const t = createTestAgent()
    t.transport.websocket = 'refused'
    const done = t.run()
    await waitUntil(() => t.transport.connections.includes('long-poll'), {
      what: "t.transport.connections.includes('long-poll')",
    })
    t.transport.command(startCommand('cmd-1', t.work))
    await waitUntil(() => t.transport.framesOf('session.started').length === 1, {
      what: "t.transport.framesOf('session.started').length === 1",
    })
    expect(t.spawn.children).toHaveLength(1)
    t.transport.websocket = 'ok'
    // The long-poll period ends after WS_RETRY_INTERVAL_MS of (fake) time; then WebSocket is tried again.
    await waitUntil(() => t.transport.connections.includes('websocket'), {
      what: "t.transport.connections.includes('websocket')",
      timeoutMs: 5000,
    })
    t.controller.abort()
    await done
  })

  test('a server that comes back during the WebSocket attempt gets WebSocket again soon, not after a whole interval', async () => {
    const t = createTestAgent()
    t.transport.down = true
    const done = t.run()
    await waitUntil(() => t.clock.sleeps.length >= 1, { what: 't.clock.sleeps.length >= 1' })
    // Up again, but this round's WebSocket attempt still fails: long-poll connects.
    t.transport.websocket = 'refused-once'
    t.transport.down = false
    await waitUntil(() => t.transport.connections.includes('websocket'), {
      what: "t.transport.connections.includes('websocket')",
      timeoutMs: 5000,
    })
    expect(t.transport.connections).toEqual(['long-poll', 'websocket'])
    const [onLongPoll, onWebSocket] = t.transport.connectedAt
    expect(onWebSocket! - onLongPoll!).toBeLessThanOrEqual(WS_RETRY_AFTER_OUTAGE_MS)
    expect(WS_RETRY_AFTER_OUTAGE_MS).toBeLessThan(WS_RETRY_INTERVAL_MS)
    t.controller.abort()
    await done
  })

  test('output the server failed to store goes again in order on a new connection, after the backoff', async () => {
    const { t, done } = await connectedWithCli()
    const child = t.spawn.children[0]!
    const stored = () =>
      t.transport
        .framesOf('session.output')
        .flatMap((f) => f.records.map((r) => r.data))
        .filter((d) => d.startsWith('line '))
    child.stdout.push('line 0')
    await waitUntil(() => stored().includes('line 0'), { what: "stored().includes('line 0')" })
    const sleepsBefore = t.clock.sleeps.length
    t.transport.failOutputs = 1
    child.stdout.push('line 1')
    await waitUntil(() => t.transport.connections.length === 2, {
      what: 't.transport.connections.length === 2',
    })
    child.stdout.push('line 2')
    await waitUntil(() => stored().includes('line 2'), { what: "stored().includes('line 2')" })
    // A reconnect with a backoff sleep, and line 1 sent again before line 2 (never a gap).
    expect(t.clock.sleeps.length).toBeGreaterThan(sleepsBefore)
    const after = stored().slice(stored().indexOf('line 1') + 1)
    expect(after.indexOf('line 1')).toBeLessThan(after.indexOf('line 2'))
    expect(t.agent.outbox.size).toBe(0)
    t.controller.abort()
    await done
  })

  test('a flood waits for the server: at most the send window goes unanswered, the rest as receipts come', async () => {
    const { t, done } = await connectedWithCli()
    t.transport.holdReceipts = true
    // About 6 MB of output: several full batches, three times the send window.
    const line = 'z'.repeat(100 * 1024)
    for (let i = 0; i < 60; i++) t.spawn.children[0]!.stdout.push(line)
    const seqs = () =>
      t.transport.framesOf('session.output').flatMap((f) => f.records.filter((r) => r.data === line))
    const queued = () =>
      t.agent.outbox.pendingAfter(0).reduce((n, e) => n + (e.text.match(/"seq":/g)?.length ?? 0), 0)
    await waitUntil(() => queued() >= 60, { what: 'queued() >= 60', timeoutMs: 10_000 })
    // Distinct frames: a connection the silent server let die sends the same ones again.
    const unanswered = [...new Map(t.transport.framesOf('session.output').map((f) => [f.id, f])).values()]
    const bytes = unanswered.reduce((n, f) => n + JSON.stringify(f).length, 0)
    const largest = Math.max(...unanswered.map((f) => JSON.stringify(f).length))
    expect(unanswered.length).toBeGreaterThan(0)
    expect(bytes).toBeLessThanOrEqual(SEND_WINDOW.bytes + largest)
    expect(new Set(seqs().map((r) => r.seq)).size).toBeLessThan(60)
    // The server catches up: everything arrives, once, in order, and the outbox empties.
    t.transport.releaseReceipts()
    await waitUntil(() => t.agent.outbox.size === 0, { what: 't.agent.outbox.size === 0', timeoutMs: 10_000 })
    const got = [...new Set(seqs().map((r) => r.seq))]
    expect(got).toEqual(Array.from({ length: 60 }, (_, i) => got[0]! + i))
    t.controller.abort()
    await done
  })

  test('output the server did not confirm is sent again after a reconnect, and only then forgotten', async () => {
    const { t, done } = await connectedWithCli()
    t.transport.holdReceipts = true
    t.spawn.children[0]!.stdout.push(
      '{"type":"assistant","message":{"content":[{"type":"text","text":"hi"}]}}',
    )
    await waitUntil(() => t.transport.framesOf('session.output').length === 1, {
      what: "t.transport.framesOf('session.output').length === 1",
    })
    const firstId = t.transport.framesOf('session.output')[0]!.id!
    expect(t.agent.outbox.size).toBeGreaterThan(0)
    t.transport.holdReceipts = false
    t.transport.dropConnection()
    await waitUntil(() => t.transport.seenIds.filter((id) => id === firstId).length >= 2, {
      what: 't.transport.seenIds.filter((id) => id === firstId).length >= 2',
    })
    await waitUntil(() => t.agent.outbox.size === 0, { what: 't.agent.outbox.size === 0' })
    expect(t.transport.connections.length).toBeGreaterThanOrEqual(2)
    const resent = t.transport.framesOf('session.output').filter((f) => f.id === firstId)
    expect(resent[1]).toEqual(resent[0]!)
    expect(resent[0]!.records[0]).toMatchObject({
      seq: 0,
      stream: 'stdout',
      event: { kind: 'assistant_text', text: 'hi' },
    })
    t.controller.abort()
    await done
  })

  test('a command redelivered after a reconnect is acked again but run once', async () => {
    const { t, done } = await connectedWithCli()
    t.transport.dropConnection()
    await waitUntil(() => t.transport.connections.length === 2, {
      what: 't.transport.connections.length === 2',
    })
    t.transport.command(startCommand('cmd-1', t.work))
    await waitUntil(() => t.transport.framesOf('ack').length === 2, {
      what: "t.transport.framesOf('ack').length === 2",
    })
    expect(t.spawn.children).toHaveLength(1)
    t.controller.abort()
    await done
  })

  test('reconnect delays stay between base and max and grow while the server is down', async () => {
    const t = createTestAgent({ reconnect_base_delay: 0.1, reconnect_max_delay: 1.6 })
    t.transport.down = true
    t.clock.randomValue = 1
    const done = t.run()
    await waitUntil(() => t.clock.sleeps.length >= 8, { what: 't.clock.sleeps.length >= 8' })
    t.controller.abort()
    await done
    const delays = t.clock.sleeps.slice(0, 8)
    expect(delays).toEqual([100, 200, 400, 800, 1600, 1600, 1600, 1600])
    t.clock.randomValue = 0
    const low = createTestAgent({ reconnect_base_delay: 0.1, reconnect_max_delay: 1.6 })
    low.transport.down = true
    low.clock.randomValue = 0
    const lowDone = low.run()
    await waitUntil(() => low.clock.sleeps.length >= 4, { what: 'low.clock.sleeps.length >= 4' })
    low.controller.abort()
    await lowDone
    expect(low.clock.sleeps.slice(0, 4)).toEqual([100, 100, 100, 100])
  })

  test("at capacity the server's Retry-After is waited out, never less", async () => {
    const t = createTestAgent({ reconnect_base_delay: 0.1, reconnect_max_delay: 1.6, transport: 'long-poll' })
    t.clock.randomValue = 1
    t.transport.overCapacityRetryAfterMs = 7000
    const done = t.run()
    await waitUntil(() => t.clock.sleeps.length >= 3, { what: 't.clock.sleeps.length >= 3' })
    t.controller.abort()
    await done
    expect(t.clock.sleeps.slice(0, 3)).toEqual([7000, 7000, 7000])
  })

  test('backoff starts over after a healthy period', async () => {
    const t = createTestAgent({ reconnect_base_delay: 0.1, reconnect_max_delay: 10, heartbeat_interval: 1 })
    t.clock.randomValue = 1
    t.transport.down = true
    const done = t.run()
    await waitUntil(() => t.clock.sleeps.length >= 4, { what: 't.clock.sleeps.length >= 4' })
    t.transport.down = false
    await waitUntil(() => t.transport.connections.length === 1, {
      what: 't.transport.connections.length === 1',
    })
    const before = t.clock.sleeps.length
    // Heartbeat sleeps advance fake time; stay connected past the healthy period, then drop.
    await waitUntil(() => t.transport.framesOf('heartbeat').length * 1000 > HEALTHY_RESET_MS, {
      what: "t.transport.framesOf('heartbeat').length * 1000 > HEALTHY_RESET_MS",
    })
    t.transport.down = true
    t.transport.dropConnection()
    await waitUntil(() => t.clock.sleeps.filter((ms, i) => i >= before && ms < 1000).length >= 1, {
      what: 't.clock.sleeps.filter((ms, i) => i >= before && ms < 1000).length >= 1',
    })
    t.controller.abort()
    await done
    const reconnectDelays = t.clock.sleeps.slice(before).filter((ms) => ms !== 1000)
    expect(reconnectDelays[0]).toBe(100)
  })

  test('a revoked token stops the loop after a few confirmations', async () => {
    const t = createTestAgent()
    const done = t.run()
    await waitUntil(() => t.transport.connections.length === 1, {
      what: 't.transport.connections.length === 1',
    })
    t.transport.revoke({ type: 'goodbye', reason: 'revoked', message: 'The agent token was revoked' })
    const result = await done
    expect(result).toMatchObject({ reason: 'unauthorized', goodbye: { reason: 'revoked' } })
    expect(t.lines.filter((l) => l.includes('server refused the agent token'))).toHaveLength(3)
    expect(t.lines.join('')).not.toContain('agent-token-for-tests')
  })
})
