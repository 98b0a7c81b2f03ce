// How the run loop reaches the server, as an interface so tests can drive the loop without
// sockets: a WebSocket channel, or one long-poll round trip. Both raise TransportError.
import type { GoodbyeFrame, LongPollRequest, LongPollResponse } from '../../protocol/index.ts'

export interface WsHandlers {
  onMessage(text: string): void
  /** A binary message: terminal traffic (protocol/terminal.ts). */
  onBinary?(data: Uint8Array): void
  onClose(code: number, reason: string): void
}

export interface WsChannel {
  send(text: string): void
  sendBinary(data: Uint8Array): void
  close(code?: number, reason?: string): void
}

export interface Transport {
  /** Resolves once the socket is open; rejects with a TransportError when it cannot open. */
  openWebSocket(handlers: WsHandlers, signal: AbortSignal): Promise<WsChannel>
  /** One long-poll request/answer. */
  poll(request: LongPollRequest, signal: AbortSignal): Promise<LongPollResponse>
  /** Connections from now on authenticate with this agent token (after a rotation). */
  useToken?(token: string): void
}

/**
 * `unauthorized`: the server refused the agent token (401/410), `goodbye` says why.
 * `unavailable`: network error, timeout or a server error; worth retrying.
 */
export class TransportError extends Error {
  override name = 'TransportError'
  constructor(
    readonly kind: 'unauthorized' | 'unavailable',
    message: string,
    readonly goodbye?: GoodbyeFrame,
    /** The server asked to wait this long (503 + Retry-After: it is at its agent capacity). */
    readonly retryAfterMs?: number,
  ) {
    super(message)
  }
}
