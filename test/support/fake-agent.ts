// A test client that plays the agent over protocol/: WebSocket or long-poll, acks commands,
// dedups redeliveries by id, and records every frame the server sent. Shared by every test
// that needs an agent without the real binary.
import {
  AGENT_MESSAGE_PATH,
  AGENT_WS_PATH,
  type AgentFrame,
  COMMAND_TYPES,
  type Command,
  type ErrorFrame,
  type GoodbyeFrame,
  type LongPollResponse,
  type MachineCapabilities,
  type OutputEvent,
  PROTOCOL_VERSION,
  parseServerFrame,
  type ServerFrame,
  type UnauthorizedAgentResponse,
} from '../../protocol/index.ts'

export type FakeTransport = 'websocket' | 'long_poll'

/** What a sandboxed machine with Qwen Code and Claude Code installed reports. */
export const FAKE_CAPABILITIES: MachineCapabilities = {
  cpu_cores: 4,
  isolation: { level: 'sandbox', mechanism: 'bubblewrap' },
  cli_tools: [
    { name: 'qwen-code', version: '0.24.4', path: '/usr/local/bin/qwen' },
    { name: 'claude-code', version: '2.1.332', path: '/usr/local/bin/claude' },
  ],
  max_sessions: 5,
  pause: true,
}

export interface FakeAgentOptions {
  /** Server base URL (http://127.0.0.1:port for WebSocket; long-poll also works through `fetch`). */
  url: string
  token: string
  machineId: string
  transport: FakeTransport
  /** Ack each command as it arrives (default true). */
  autoAck?: boolean
  /** Send hello on connect (default true). */
  hello?: boolean
  /** Replaces global fetch for long-poll (e.g. a test server's in-process request). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>
  /** What hello reports (default FAKE_CAPABILITIES). */
  capabilities?: Record<string, unknown>
  /** The version hello reports (default 0.0.0-test). */
  agentVersion?: string
  /** More hello fields (e.g. a self-update's `update`). */
  helloExtra?: Record<string, unknown>
}

/** The fake agent of a registered machine, from its answer to registerMachine. */
export interface FakeAgentMachine {
  machineId: string
  agentToken: string
}

const COMMANDS = new Set<string>(COMMAND_TYPES)

const ANSWERS_TO_HELLO = new Set(['welcome', 'error', 'goodbye'])

export class FakeAgent {
  /** Every distinct command, in arrival order (a redelivered id is not added twice). */
  readonly commands: Command[] = []
  /** Every frame the server sent, duplicates included. */
  readonly frames: ServerFrame[] = []
  readonly errors: ErrorFrame[] = []
  /** Long-poll: answers to waiting requests so far (a held request ends by one). */
  waitingAnswers = 0
  /** Terminal messages (protocol/terminal.ts) the server sent in long-poll answers, in order. */
  readonly terminal: Uint8Array[] = []
  goodbye: GoodbyeFrame | undefined
  /** HTTP status of a refused request or upgrade (401 for a revoked token). */
  refusedStatus: number | undefined
  closeCode: number | undefined
  private ws: WebSocket | undefined
  private outbox: AgentFrame[] = []
  private running = false
  private pollAbort: AbortController | undefined
  private waiters = new Set<() => void>()
  private readonly doFetch: (url: string, init: RequestInit) => Promise<Response>

  constructor(readonly options: FakeAgentOptions) {
    this.doFetch = options.fetch ?? ((url, init) => fetch(url, init))
  }

  /**
   * The fake agent of `machine` on the server at `url`, connected and, when it says hello, welcomed.
   * Other options pass through (WebSocket unless told). With `track` the agent goes into it before
   * connecting, so the test closes it even when connecting fails.
   */
  static async connectTo(
    url: string,
    machine: FakeAgentMachine,
    options: Partial<Omit<FakeAgentOptions, 'url' | 'token' | 'machineId'>> & { track?: FakeAgent[] } = {},
  ): Promise<FakeAgent> {
    const { track, ...rest } = options
    const agent = new FakeAgent({
      url,
      token: machine.agentToken,
      machineId: machine.machineId,
      transport: 'websocket',
      ...rest,
    })
    track?.push(agent)
    await agent.connect()
    if (rest.hello !== false) await agent.waitForFrame('welcome')
    return agent
  }

  get stopped(): boolean {
    return this.goodbye !== undefined || this.refusedStatus !== undefined
  }

  hello(): AgentFrame {
    return {
      type: 'hello',
      machine_id: this.options.machineId,
      agent_version: this.options.agentVersion ?? '0.0.0-test',
      protocol_version: PROTOCOL_VERSION,
      system_info: { cpu_cores: 2 },
      capabilities: this.options.capabilities ?? FAKE_CAPABILITIES,
      ...this.options.helloExtra,
    } as AgentFrame
  }

  /**
   * Opens the channel and, unless told not to say hello, waits for the server's answer to it
   * (welcome, error or goodbye; or the channel closing): once welcomed the machine is online, so
   * a test may go on at once (creating a session right after connect raced the online mark).
   */
  async connect(): Promise<void> {
    this.running = true
    const before = this.frames.length
    if (this.options.transport === 'websocket') await this.connectWebSocket()
    else {
      if (this.options.hello !== false) this.outbox.push(this.hello())
      void this.pollLoop()
    }
    if (this.options.hello === false) return
    const closed = this.closeCode
    await this.waitFor(
      () =>
        this.frames.slice(before).some((f) => ANSWERS_TO_HELLO.has(f.type)) ||
        this.refusedStatus !== undefined ||
        this.closeCode !== closed,
      10_000,
      'the answer to hello',
    )
  }

  private connectWebSocket(): Promise<void> {
    const wsUrl = `${this.options.url.replace(/^http/, 'ws')}${AGENT_WS_PATH}`
    const ws = new WebSocket(wsUrl, { headers: { authorization: `Bearer ${this.options.token}` } } as never)
    this.ws = ws
    return new Promise((resolve, reject) => {
      ws.onopen = () => {
        if (this.options.hello !== false) ws.send(JSON.stringify(this.hello()))
        resolve()
      }
      ws.onmessage = (event) => this.onFrame(JSON.parse(String(event.data)))
      ws.onclose = (event) => {
        this.closeCode = event.code
        this.notify()
        reject(new Error(`websocket closed before open (${event.code})`))
      }
    })
  }

  private onFrame(raw: unknown) {
    const parsed = parseServerFrame(raw)
    if (!parsed.ok) throw new Error(`server sent a bad frame: ${parsed.error.message}`)
    const frame = parsed.value
    this.frames.push(frame)
    if (frame.type === 'error') this.errors.push(frame)
    else if (frame.type === 'goodbye') this.goodbye = frame
    else if (COMMANDS.has(frame.type)) {
      const command = frame as Command
      if (!this.commands.some((c) => c.id === command.id)) this.commands.push(command)
      if (this.options.autoAck !== false) this.ack([command.id])
    }
    this.notify()
  }

  ack(ids: string[]) {
    void this.send({ type: 'ack', command_ids: ids })
  }

  /** Sends one frame, or raw text (WebSocket) to test malformed input. Long-poll posts it at once.
   * Typed loosely on purpose: tests send frames the protocol refuses. */
  async send(frame: string | object): Promise<void> {
    if (this.options.transport === 'websocket') {
      this.ws?.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
      return
    }
    await this.post([frame], false)
  }

  /** Long-poll: terminal messages (output, states) in one upload batch, as the agent sends them. */
  async sendTerminal(messages: Uint8Array[]): Promise<void> {
    await this.post([], false, undefined, messages)
  }

  private async post(events: unknown[], wait: boolean, signal?: AbortSignal, terminal?: Uint8Array[]) {
    const res = await this.doFetch(`${this.options.url}${AGENT_MESSAGE_PATH}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.options.token}` },
      body: JSON.stringify({
        events,
        wait,
        ...(terminal ? { terminal: terminal.map((m) => Buffer.from(m).toString('base64')) } : {}),
      }),
      signal,
    })
    if (res.status === 401) {
      const body = (await res.json()) as UnauthorizedAgentResponse
      this.refusedStatus = 401
      this.goodbye = body.goodbye
      this.running = false
      this.notify()
      return
    }
    if (res.status !== 200) throw new Error(`long-poll answered ${res.status}: ${await res.text()}`)
    const body = (await res.json()) as LongPollResponse
    if (wait) {
      this.waitingAnswers++
      this.notify()
    }
    for (const text of body.terminal ?? []) this.terminal.push(new Uint8Array(Buffer.from(text, 'base64')))
    if (body.terminal?.length) this.notify()
    for (const reply of body.replies) this.onFrame(reply)
    for (const command of body.commands) this.onFrame(command)
  }

  private async pollLoop() {
    while (this.running) {
      const events = this.outbox
      this.outbox = []
      this.pollAbort = new AbortController()
      try {
        await this.post(events, true, this.pollAbort.signal)
      } catch (error) {
        if (!this.running) return
        if ((error as Error).name !== 'AbortError') await Bun.sleep(50)
      }
    }
  }

  /**
   * Resolves on the frame after which `predicate` holds, else rejects after timeoutMs. Tests wait
   * with `waitUntil`; this event-driven form is for waitForCommand/waitForFrame and the benchmarks,
   * which time the arrival itself and cannot afford a polling interval.
   */
  waitFor<T>(predicate: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = predicate()
        if (value) {
          this.waiters.delete(check)
          clearTimeout(timer)
          resolve(value)
        }
      }
      const timer = setTimeout(() => {
        this.waiters.delete(check)
        reject(new Error(`fake agent: timed out waiting for ${what}`))
      }, timeoutMs)
      this.waiters.add(check)
      check()
    })
  }

  /** One stdout record carrying what the CLI's adapter made of it (a tool call, a result...). */
  reportEvent(sessionId: string, seq: number, event: OutputEvent, data = '') {
    return this.send({
      type: 'session.output',
      session_id: sessionId,
      records: [{ seq, stream: 'stdout', data, ts: new Date().toISOString(), event }],
    })
  }

  /** A tool asking to run, as the CLI's adapter reports it: one permission_request output record. */
  askPermission(sessionId: string, seq: number, requestId: string, tool: string, data = '') {
    return this.reportEvent(
      sessionId,
      seq,
      { kind: 'permission_request', request_id: requestId, tool_name: tool, input: { command: 'ls' } },
      data,
    )
  }

  waitForCommand(type?: Command['type'], timeoutMs?: number): Promise<Command> {
    const seen = this.commands.length
    return this.waitFor(
      () => this.commands.slice(type ? 0 : seen).find((c) => !type || c.type === type),
      timeoutMs,
      `command ${type ?? '(any)'}`,
    )
  }

  waitForFrame<T extends ServerFrame['type']>(type: T, timeoutMs?: number) {
    return this.waitFor(
      () => this.frames.find((f) => f.type === type) as Extract<ServerFrame, { type: T }> | undefined,
      timeoutMs,
      `frame ${type}`,
    )
  }

  private notify() {
    for (const check of [...this.waiters]) check()
  }

  /** Drops the connection without a goodbye (like a network cut). */
  async close(): Promise<void> {
    this.running = false
    this.pollAbort?.abort()
    if (this.ws && this.ws.readyState !== WebSocket.CLOSED) {
      const ws = this.ws
      await new Promise<void>((resolve) => {
        ws.onclose = (event) => {
          this.closeCode = event.code
          resolve()
        }
        ws.close()
      })
    }
  }
}

/** Registers a machine through the real HTTP API: token as system admin, then the agent's register call. */
export async function registerMachine(
  request: (path: string, init?: RequestInit & { json?: unknown; cookie?: string }) => Promise<Response>,
  adminCookie: string,
  options: {
    tenantId?: number
    machineId?: string
    name?: string
    hostname?: string
    agentToken?: string
  } = {},
): Promise<FakeAgentMachine> {
  const tokenRes = await request('/api/remote/machines/register', {
    method: 'POST',
    cookie: adminCookie,
    json: { tenant_id: options.tenantId ?? 1 },
  })
  if (tokenRes.status !== 200)
    throw new Error(`registration token: ${tokenRes.status} ${await tokenRes.text()}`)
  const { registration_token } = (await tokenRes.json()) as { registration_token: string }
  const machineId = options.machineId ?? crypto.randomUUID()
  const res = await request('/api/remote/agent/register', {
    method: 'POST',
    ...(options.agentToken ? { headers: { authorization: `Bearer ${options.agentToken}` } } : {}),
    json: {
      registration_token,
      machine_id: machineId,
      machine_name: options.name ?? `machine-${machineId.slice(0, 8)}`,
      hostname: options.hostname ?? `host-${machineId.slice(0, 8)}`,
      os_type: 'linux',
      os_version: '6.1',
      capabilities: FAKE_CAPABILITIES,
      agent_version: '0.0.0-test',
    },
  })
  if (res.status !== 200) throw new Error(`agent register: ${res.status} ${await res.text()}`)
  const body = (await res.json()) as { agent_token: string; machine_id: string }
  // The server's id: a re-installed host is merged into the machine it already knows.
  return { machineId: body.machine_id, agentToken: body.agent_token }
}

/**
 * A machine registered on `server` with its fake agent connected and welcomed. The agent goes into
 * `track`, which the test closes when it ends.
 */
export async function connectedAgent(
  server: { url: string; request: Parameters<typeof registerMachine>[0] },
  adminCookie: string,
  track: FakeAgent[],
  transport: FakeTransport = 'websocket',
) {
  const m = await registerMachine(server.request, adminCookie)
  return { ...m, agent: await FakeAgent.connectTo(server.url, m, { transport, track }) }
}

/** Closes a test's agents one after another, before its server stops, so none sees the server go. */
export async function closeAgents(agents: FakeAgent[]) {
  for (const agent of agents) await agent.close()
}
