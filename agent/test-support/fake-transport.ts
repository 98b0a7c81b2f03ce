// An in-memory server side for run-loop tests: answers hello with welcome and every frame id
// with `received` (unless told to hold receipts), queues commands, and can refuse the
// WebSocket, go down, drop connections or revoke the token.
import type {
  AgentFrame,
  Command,
  GoodbyeFrame,
  LongPollRequest,
  LongPollResponse,
  ReplyFrame,
} from '../../protocol/index.ts'
import { type Transport, TransportError, type WsChannel, type WsHandlers } from '../connection/transport.ts'

export class FakeTransport implements Transport {
  /** Every frame the "server" got, in order, duplicates included. */
  readonly frames: AgentFrame[] = []
  readonly connections: ('websocket' | 'long-poll')[] = []
  /** When each connection opened, by the clock the transport was given. */
  readonly connectedAt: number[] = []
  /** 'refused-once': the next upgrade is refused, later ones open (a server coming up mid-attempt). */
  websocket: 'ok' | 'refused' | 'refused-once' = 'ok'
  down = false
  /** When set, long-polls answer 503 with this Retry-After (the server is at its agent capacity). */
  overCapacityRetryAfterMs: number | undefined
  revoked: GoodbyeFrame | undefined
  holdReceipts = false
  /** This many session.output frames are answered with an `internal` error (the server's database down). */
  failOutputs = 0
  /** Ids whose receipt is being held, for releaseReceipts(). */
  private held: string[] = []
  private ws: WsHandlers | undefined
  private queued: Command[] = []
  private wake: (() => void) | undefined

  constructor(private readonly now: () => number = Date.now) {}

  private connected(kind: 'websocket' | 'long-poll') {
    this.connections.push(kind)
    this.connectedAt.push(this.now())
  }

  get seenIds(): string[] {
    return this.frames.flatMap((f) => (f.id ? [f.id] : []))
  }

  framesOf<T extends AgentFrame['type']>(type: T): Extract<AgentFrame, { type: T }>[] {
    return this.frames.filter((f): f is Extract<AgentFrame, { type: T }> => f.type === type)
  }

  private accept(frame: AgentFrame): ReplyFrame[] {
    this.frames.push(frame)
    const replies: ReplyFrame[] = []
    if (frame.type === 'hello') {
      replies.push({
        type: 'welcome',
        machine_id: frame.machine_id,
        protocol_version: 1,
        heartbeat_interval_seconds: 1,
        server_time: new Date().toISOString(),
      })
    }
    if (frame.id && frame.type === 'session.output' && this.failOutputs > 0) {
      this.failOutputs--
      replies.push({
        type: 'error',
        code: 'internal',
        message: 'Could not process session.output',
        ref: frame.id,
      })
    } else if (frame.id && !this.holdReceipts) replies.push({ type: 'received', ids: [frame.id] })
    else if (frame.id) this.held.push(frame.id)
    return replies
  }

  /** Stops holding receipts and sends the held ones (WebSocket), as a slow server catching up. */
  releaseReceipts(): void {
    this.holdReceipts = false
    const ids = this.held.splice(0)
    const ws = this.ws
    if (ws && ids.length) queueMicrotask(() => ws.onMessage(JSON.stringify({ type: 'received', ids })))
  }

  /** Binary (terminal) messages the agent sent. */
  binary: Uint8Array[] = []

  async openWebSocket(handlers: WsHandlers): Promise<WsChannel> {
    if (this.down || this.websocket === 'refused') throw new TransportError('unavailable', 'upgrade refused')
    if (this.websocket === 'refused-once') {
      this.websocket = 'ok'
      throw new TransportError('unavailable', 'connection refused')
    }
    if (this.revoked) throw new TransportError('unavailable', 'WebSocket closed before opening (1002)')
    this.ws = handlers
    this.connected('websocket')
    const send = (f: unknown) => queueMicrotask(() => handlers.onMessage(JSON.stringify(f)))
    for (const c of this.queued.splice(0)) send(c)
    return {
      send: (text) => {
        if (this.ws !== handlers) return
        for (const reply of this.accept(JSON.parse(text))) send(reply)
      },
      sendBinary: (data) => {
        if (this.ws === handlers) this.binary.push(data)
      },
      close: () => {
        if (this.ws === handlers) this.ws = undefined
      },
    }
  }

  async poll(request: LongPollRequest, signal: AbortSignal): Promise<LongPollResponse> {
    if (this.down) throw new TransportError('unavailable', 'connection refused')
    if (this.overCapacityRetryAfterMs !== undefined)
      throw new TransportError(
        'unavailable',
        'long-poll answered 503',
        undefined,
        this.overCapacityRetryAfterMs,
      )
    if (this.revoked) throw new TransportError('unauthorized', this.revoked.message, this.revoked)
    if (request.events.some((e) => e.type === 'hello')) this.connected('long-poll')
    const replies = request.events.flatMap((e) => this.accept(e))
    if (request.wait !== false && this.queued.length === 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50)
        this.wake = () => {
          clearTimeout(timer)
          resolve()
        }
        signal.addEventListener('abort', this.wake, { once: true })
      })
    }
    return { commands: request.wait === false ? [] : this.queued.splice(0), replies }
  }

  /** Delivers a command now (WebSocket) or to the next waiting poll. */
  command(cmd: Command): void {
    if (this.ws) {
      const ws = this.ws
      queueMicrotask(() => ws.onMessage(JSON.stringify(cmd)))
      return
    }
    this.queued.push(cmd)
    this.wake?.()
  }

  /** The network drops the WebSocket. */
  dropConnection(code = 1006): void {
    const ws = this.ws
    this.ws = undefined
    ws?.onClose(code, '')
  }

  /** A live WebSocket learns of the revocation: goodbye, then close 4001. */
  revoke(goodbye: GoodbyeFrame): void {
    this.revoked = goodbye
    const ws = this.ws
    this.ws = undefined
    ws?.onMessage(JSON.stringify(goodbye))
    ws?.onClose(4001, 'revoked')
  }
}
