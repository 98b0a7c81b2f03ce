// Full fault suite, processes and network (run by `bun run test:chaos`, see run.ts): a real
// server process and the compiled agent, dialling through a TCP proxy the test controls. Each
// scenario ends with the sequence check: output seqs exactly 0..n-1, every line and every
// message once. Runs on the embedded database and, with DATABASE_URL, on real Postgres.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { machineOnline, runAgentBinary } from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { readSse, type SseEvent, SseParser } from '../support/sse.ts'
import { startTcpProxy } from '../support/tcp-proxy.ts'
import { waitUntil } from '../support/wait-until.ts'
import {
  assertSequence,
  BASE_DELAY_S,
  chat,
  MAX_DELAY_S,
  newSession,
  output,
  type Rig,
  startRig,
  ticksOf,
  untilLine,
} from './support.ts'

/** How long the network between agent and server stays cut. */
const NETWORK_CUT_MS = 30_000

let rig: Rig
beforeAll(async () => {
  rig = await startRig()
}, 180_000)
afterAll(async () => {
  await rig?.close()
})

/** Reads SSE events until `done` holds or the connection breaks; returns what arrived. */
async function readUntilCut(res: Response, done: (events: SseEvent[]) => boolean): Promise<SseEvent[]> {
  const parser = new SseParser()
  const events: SseEvent[] = []
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  try {
    while (!done(events)) {
      const { value, done: ended } = await reader.read()
      if (ended) break
      events.push(...parser.push(value))
    }
  } catch {
    // The cut: the connection reset under the reader.
  }
  return events
}

/** Waits for the agent to be online; a timeout names the machine's state and the agent's last log lines. */
const online = async (ms = 20_000) => {
  try {
    return await waitUntil(machineOnline(rig.server.url, rig.admin, rig.agent.machineId), {
      what: 'agent online',
      timeoutMs: ms,
    })
  } catch (error) {
    const { data } = await browserApi(rig.server.url, rig.admin)
      .remote.machines({ id: rig.agent.machineId })
      .get()
    const machine = data?.machine
    const tail = rig.agent.log().split('\n').slice(-25).join('\n')
    throw new Error(
      `${(error as Error).message}: machine ${JSON.stringify({ status: machine?.status, connected: machine?.connected, transport: machine?.transport })}; agent log:\n${tail}`,
    )
  }
}

describe('fault suite: processes and network', () => {
  test('agent SIGKILLed mid-answer; messages sent while it is down arrive once after its restart', async () => {
    const id = await newSession(rig)
    await chat(rig, id, 'count 400')
    await untilLine(rig, id, 'tick 60')
    rig.agent.proc.kill('SIGKILL')
    await rig.agent.proc.exited
    const messages = Array.from({ length: 5 }, (_, i) => `while-down-${i}`)
    for (const m of messages) await chat(rig, id, m)
    rig.agent = runAgentBinary(rig.agent.dir, rig.agent.machineId, rig.agent.env, rig.processes)
    await online()
    for (const m of messages) await untilLine(rig, id, `echo: ${m}`)
    await Bun.sleep(1000) // any duplicate redelivery would land by now
    const lines = await output(rig, id)
    // The killed CLI's count stops where the kill hit; everything it printed before is kept.
    const ticks = lines.filter((l) => l.data.startsWith('tick ')).length
    expect(ticks).toBeGreaterThan(60)
    assertSequence(lines, ticksOf(ticks), [], messages)
  }, 90_000)

  test('server SIGKILLed mid-answer and restarted: the count completes with no gap or repeat', async () => {
    const id = await newSession(rig)
    await chat(rig, id, 'count 400')
    await chat(rig, id, 'queued-behind-the-count')
    await untilLine(rig, id, 'tick 50')
    await rig.restartServer()
    await online()
    await chat(rig, id, 'after-restart')
    await untilLine(rig, id, 'echo: after-restart')
    await Bun.sleep(1000)
    assertSequence(await output(rig, id), ticksOf(400), [400], ['queued-behind-the-count', 'after-restart'])
  }, 90_000)

  test('network to the agent cut for 30 s: backoff schedule kept, output resumes, nothing lost', async () => {
    const id = await newSession(rig)
    await chat(rig, id, 'count 2500')
    await untilLine(rig, id, 'tick 20')
    const logBefore = rig.agent.log().length
    const attemptsBefore = rig.agentLink.accepted
    const cut = rig.agentLink.cut(NETWORK_CUT_MS)
    await waitUntil(
      async () =>
        (await machineOnline(rig.server.url, rig.admin, rig.agent.machineId)()) ? undefined : true,
      { what: 'machine offline', timeoutMs: 15_000 },
    )
    await chat(rig, id, 'sent-during-the-cut')
    await cut
    await online(MAX_DELAY_S * 1000 + 15_000)
    await untilLine(rig, id, 'done 2500', 60_000)
    await untilLine(rig, id, 'echo: sent-during-the-cut')
    await Bun.sleep(1000)
    assertSequence(await output(rig, id), ticksOf(2500), [2500], ['sent-during-the-cut'])

    // The backoff: full jitter between base and a ceiling that doubles up to max (the schedule
    // may start part way up: it resets only after 30 s of healthy connection).
    const delays = [
      ...rig.agent
        .log()
        .slice(logBefore)
        .matchAll(/reconnecting in_ms=(\d+)/g),
    ].map((m) => Number(m[1]))
    expect(delays.length).toBeGreaterThan(3)
    for (const ms of delays) {
      expect(ms).toBeGreaterThanOrEqual(BASE_DELAY_S * 1000 - 1)
      expect(ms).toBeLessThanOrEqual(MAX_DELAY_S * 1000 + 1)
    }
    expect(Math.max(...delays)).toBeGreaterThan(2 * BASE_DELAY_S * 1000)
    // It slept those delays: together they span the cut, give or take one delay and a handshake.
    const slept = delays.reduce((a, b) => a + b, 0)
    expect(slept).toBeGreaterThan(NETWORK_CUT_MS - MAX_DELAY_S * 1000 - 1000)
    expect(slept).toBeLessThan(NETWORK_CUT_MS + MAX_DELAY_S * 1000 + 1000)
    // Each attempt is one connection (a refused WebSocket may add one long-poll try).
    const attempts = rig.agentLink.accepted - attemptsBefore
    expect(attempts).toBeLessThanOrEqual(2 * (delays.length + 1))
  }, 120_000)

  test('browser SSE cut mid-stream and resumed with Last-Event-ID: every seq exactly once', async () => {
    const browserLink = await startTcpProxy(rig.server.port)
    try {
      const id = await newSession(rig)
      await chat(rig, id, 'count 600')
      const stream = (lastEventId?: string) =>
        fetch(`${browserLink.url}/api/remote/sessions/${id}/stream`, {
          headers: { cookie: rig.admin, ...(lastEventId ? { 'last-event-id': lastEventId } : {}) },
        })
      const outputs = (events: SseEvent[]) => events.filter((e) => e.event === 'output')
      const finished = (events: SseEvent[]) => outputs(events).some((e) => e.data.includes('"done 600"'))
      const first = await stream()
      expect(first.status).toBe(200)
      const reading = readUntilCut(first, finished)
      await untilLine(rig, id, 'tick 100')
      browserLink.dropAll()
      const before = outputs(await reading)
      expect(before.length).toBeGreaterThan(50)
      expect(finished(before)).toBe(false)

      const resumed = await stream(before.at(-1)!.id)
      expect(resumed.status).toBe(200)
      const after = outputs(await readSse(resumed, finished, 30_000))
      const seqs = [...before, ...after].map((e) => Number(e.id))
      expect(seqs).toEqual(seqs.map((_, i) => i))
      const stored = await output(rig, id)
      expect(seqs).toEqual(stored.map((l) => l.seq))
      assertSequence(stored, ticksOf(600), [600], [])
    } finally {
      browserLink.stop()
    }
  }, 90_000)
})
