// What one connection attempt reports back to the run loop, and the options both transports share.
import type { GoodbyeFrame } from '../../protocol/index.ts'
import type { AgentLogger } from '../log.ts'
import type { AgentLink, Clock } from './link.ts'
import type { Transport } from './transport.ts'

/** A connection is declared dead after this many heartbeats without a word from the server. */
export const SILENT_INTERVALS_BEFORE_DEAD = 3

/** How long the server may take to answer hello with welcome. */
export const HANDSHAKE_TIMEOUT_MS = 15_000

export interface ServeContext {
  transport: Transport
  link: AgentLink
  clock: Clock
  log: AgentLogger
  /** Current heartbeat interval; the server's welcome may change it. */
  heartbeatMs: number
}

export interface ServeOutcome {
  /** How long the connection was up after the handshake; 0 = it never came up. */
  healthyMs: number
  /** The server refused the agent token. */
  unauthorized?: { goodbye?: GoodbyeFrame; message: string }
  /** Why the connection ended, when it was not asked to. */
  error?: string
  /** The long-poll period ended so WebSocket can be tried again. */
  retryWebSocket?: boolean
  /** The server asked the agent to wait at least this long before trying again. */
  retryAfterMs?: number
}

let heartbeatCounter = 0
/** Heartbeats carry an id so the server's `received` answer proves the connection alive. */
export function heartbeatFrame(ctx: ServeContext) {
  return { ...ctx.link.heartbeat(), id: `hb-${ctx.clock.now().toString(36)}-${++heartbeatCounter}` }
}
