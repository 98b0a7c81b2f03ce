// What the connection needs from the rest of the agent, so the run loop knows nothing about
// sessions: the greeting and heartbeat frames, the outbox of unconfirmed frames, prompt
// control frames (acks), and a sink for commands. It outlives every single connection.
import type { AgentFrame, Command } from '../../protocol/index.ts'
import type { Outbox } from '../outbox.ts'

export type ConnectionState = 'connecting' | 'online' | 'offline' | 'stopped'

export interface AgentLink {
  readonly outbox: Outbox
  hello(): AgentFrame
  heartbeat(): AgentFrame
  /** A checked command from the server; may be a redelivery of one already run. */
  onCommand(command: Command): void
  /** Frames to send now but never re-send (acks); emptied by the call. */
  takeControlFrames(): AgentFrame[]
  onControlFrame(fn: () => void): () => void
  /** A binary (terminal) message from the server. */
  onBinary(data: Uint8Array): void
  /** Where binary messages go now: the open WebSocket, or nowhere (null) between connections. */
  setBinarySink(sink: ((data: Uint8Array) => void) | null): void
  /** Asks the run loop to drop the connection and connect again at once (a new agent token). */
  onReconnectRequest?(fn: () => void): () => void
  /** Connection changes, for the status file and logs. */
  setConnection(state: ConnectionState, transport?: 'websocket' | 'long-poll', detail?: string): void
}

export interface Clock {
  now(): number
  /** Resolves after `ms`, or at once when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
  random(): number
}

export const systemClock: Clock = {
  now: () => Date.now(),
  random: Math.random,
  sleep: (ms, signal) =>
    new Promise((resolve) => {
      if (signal?.aborted) return resolve()
      const timer = setTimeout(done, ms)
      function done() {
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      signal?.addEventListener('abort', done, { once: true })
    }),
}
