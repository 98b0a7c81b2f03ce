// One client process of the fleet benchmark (test/bench/fleet.ts spawns several: a process may
// hold at most 20,000 files). Plays lean agents over the real protocol, WebSocket or long-poll:
// hello, heartbeats every interval at a random phase, acks, an fs.result for every fs.list (its
// arrival time reported to the parent), and session output for the agents given a session.
import {
  AGENT_MESSAGE_PATH,
  AGENT_WS_PATH,
  type AgentFrame,
  type Command,
  type LongPollResponse,
  PROTOCOL_VERSION,
} from '../../protocol/index.ts'

export interface BenchAgent {
  id: string
  token: string
  transport: 'websocket' | 'long_poll'
  sessionId?: string
}

export type ToWorker =
  | { type: 'connect'; url: string; agents: BenchAgent[]; heartbeatMs: number }
  | { type: 'stream'; on: boolean; linesPerSecond: number }
  | { type: 'stop' }

export type FromWorker =
  | { type: 'connected'; ok: number; failed: number; firstError?: string }
  | { type: 'command'; path: string; at: number }
  | { type: 'streamed'; records: number }

/** How many agents connect at once per worker. */
const CONNECT_CONCURRENCY = 40
/** Output is sent in frames this often (20 lines/s = 5 records per frame). */
const OUTPUT_FRAME_MS = 250
const CONNECT_TIMEOUT_MS = 45_000

const send = (message: FromWorker) => process.send?.(message)
const nowMs = () => performance.timeOrigin + performance.now()

interface Live {
  agent: BenchAgent
  post(frame: AgentFrame): void
  close(): void
  seq: number
}

const live: Live[] = []
const timers = new Set<ReturnType<typeof setTimeout>>()
let url = ''
let streamTimer: ReturnType<typeof setInterval> | undefined

function onCommand(agent: Live, command: Command) {
  agent.post({ type: 'ack', command_ids: [command.id] })
  if (command.type !== 'fs.list') return
  send({ type: 'command', path: command.path, at: nowMs() })
  agent.post({ type: 'fs.result', request_id: command.request_id, path: command.path, entries: [] })
}

function hello(agent: BenchAgent): AgentFrame {
  return {
    type: 'hello',
    machine_id: agent.id,
    agent_version: '0.0.0-bench',
    protocol_version: PROTOCOL_VERSION,
    system_info: { cpu_cores: 4 },
  }
}

function connectWebSocket(agent: BenchAgent): Promise<Live> {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${AGENT_WS_PATH}`, {
    headers: { authorization: `Bearer ${agent.token}` },
  } as never)
  const conn: Live = {
    agent,
    seq: 0,
    post: (frame) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(frame))
    },
    close: () => ws.close(),
  }
  return new Promise((resolve, reject) => {
    ws.onopen = () => ws.send(JSON.stringify(hello(agent)))
    ws.onmessage = (event) => {
      const frame = JSON.parse(String(event.data)) as { type: string }
      if (frame.type === 'welcome') resolve(conn)
      else if (frame.type.includes('.')) onCommand(conn, frame as Command)
    }
    ws.onclose = (event) => reject(new Error(`websocket closed (${event.code})`))
  })
}

function connectLongPoll(agent: BenchAgent): Promise<Live> {
  let running = true
  let outbox: AgentFrame[] = [hello(agent)]
  const abort = new AbortController()
  const request = (events: AgentFrame[], wait: boolean) =>
    fetch(`${url}${AGENT_MESSAGE_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${agent.token}` },
      body: JSON.stringify({ events, wait }),
      signal: abort.signal,
    })
  const conn: Live = {
    agent,
    seq: 0,
    // Like the real agent's sender: frames go out at once, not when the held poll returns.
    post: (frame) => {
      if (running)
        void request([frame], false).then(
          (r) => r.arrayBuffer(),
          () => undefined,
        )
    },
    close: () => {
      running = false
      abort.abort()
    },
  }
  return new Promise((resolve, reject) => {
    let welcomed = false
    const loop = async () => {
      while (running) {
        const events = outbox
        outbox = []
        try {
          const res = await request(events, welcomed)
          if (res.status !== 200) throw new Error(`long-poll answered ${res.status}`)
          const body = (await res.json()) as LongPollResponse
          if (!welcomed && body.replies.some((r) => r.type === 'welcome')) {
            welcomed = true
            resolve(conn)
          }
          for (const command of body.commands) onCommand(conn, command)
        } catch (error) {
          if (!welcomed) return reject(error)
          if (running) await Bun.sleep(200)
        }
      }
    }
    void loop()
  })
}

function startHeartbeats(conn: Live, heartbeatMs: number) {
  const beat = () =>
    conn.post({
      type: 'heartbeat',
      system_info: { load: Math.random(), uptime_s: Math.floor(performance.now() / 1000) },
      sessions: [],
    })
  const first = setTimeout(() => {
    timers.delete(first)
    beat()
    const every = setInterval(beat, heartbeatMs)
    timers.add(every as unknown as ReturnType<typeof setTimeout>)
  }, Math.random() * heartbeatMs)
  timers.add(first)
}

async function connectAll(agents: BenchAgent[], heartbeatMs: number) {
  let next = 0
  let ok = 0
  let failed = 0
  let firstError: string | undefined
  const deadline = Date.now() + CONNECT_TIMEOUT_MS
  const lane = async () => {
    while (next < agents.length && Date.now() < deadline) {
      const agent = agents[next++]!
      try {
        const conn = await (agent.transport === 'websocket'
          ? connectWebSocket(agent)
          : connectLongPoll(agent))
        live.push(conn)
        startHeartbeats(conn, heartbeatMs)
        ok++
      } catch (error) {
        failed++
        firstError ??= String(error)
      }
    }
  }
  await Promise.all(Array.from({ length: CONNECT_CONCURRENCY }, lane))
  failed += agents.length - next
  send({ type: 'connected', ok, failed, ...(firstError ? { firstError } : {}) })
}

function stream(on: boolean, linesPerSecond: number) {
  if (streamTimer) clearInterval(streamTimer)
  streamTimer = undefined
  if (!on) return
  const perFrame = Math.max(1, Math.round((linesPerSecond * OUTPUT_FRAME_MS) / 1000))
  const streamers = live.filter((c) => c.agent.sessionId)
  streamTimer = setInterval(() => {
    const ts = new Date().toISOString()
    for (const conn of streamers) {
      const records = Array.from({ length: perFrame }, () => ({
        seq: conn.seq++,
        stream: 'stdout' as const,
        data: `bench output line ${conn.seq} ${'.'.repeat(60)}\n`,
        ts,
      }))
      conn.post({ type: 'session.output', session_id: conn.agent.sessionId!, records })
    }
    send({ type: 'streamed', records: streamers.length * perFrame })
  }, OUTPUT_FRAME_MS)
}

process.on('message', (message: ToWorker) => {
  if (message.type === 'connect') {
    url = message.url
    void connectAll(message.agents, message.heartbeatMs)
  } else if (message.type === 'stream') stream(message.on, message.linesPerSecond)
  else if (message.type === 'stop') {
    stream(false, 0)
    for (const timer of timers) clearTimeout(timer)
    for (const conn of live) conn.close()
    setTimeout(() => process.exit(0), 200)
  }
})
// The parent going away must not leave this process behind.
process.on('disconnect', () => process.exit(0))
