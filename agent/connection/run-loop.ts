// The agent's one connection loop (after Coder's agent.go): connect -> serve -> back off ->
// reconnect until stopped. WebSocket first; when it cannot open, long-poll, trying WebSocket
// again every WS_RETRY_INTERVAL_MS. Delays grow with full jitter and start over after a
// healthy period. A refused token stops the loop after a few confirmations, not forever.
import type { GoodbyeFrame } from '../../protocol/index.ts'
import { createBackoff } from '../backoff.ts'
import type { TransportMode } from '../config.ts'
import type { AgentLogger } from '../log.ts'
import type { AgentLink, Clock } from './link.ts'
import { serveLongPoll } from './long-poll.ts'
import type { ServeContext, ServeOutcome } from './serve.ts'
import type { Transport } from './transport.ts'
import { serveWebSocket, WebSocketUnavailable } from './websocket.ts'

/** A connection up this long resets the backoff. */
export const HEALTHY_RESET_MS = 30_000
/** While on long-poll, WebSocket is tried again this often. */
export const WS_RETRY_INTERVAL_MS = 60_000
/**
 * Right after an outage WebSocket is tried again sooner: a server that comes up between the
 * WebSocket attempt and the long-poll one would otherwise leave the agent on long-poll (slower
 * for terminals and output) for a whole interval.
 */
export const WS_RETRY_AFTER_OUTAGE_MS = 5_000
/** Consecutive token refusals before the agent gives up. */
export const AUTH_CONFIRMATIONS = 3

export interface RunLoopOptions {
  transport: Transport
  link: AgentLink
  clock: Clock
  log: AgentLogger
  mode: TransportMode
  baseDelayMs: number
  maxDelayMs: number
  heartbeatMs: number
  healthyResetMs?: number
  wsRetryMs?: number
  authConfirmations?: number
}

export type RunLoopResult =
  | { reason: 'stopped' }
  | { reason: 'unauthorized'; message: string; goodbye?: GoodbyeFrame }

export async function runLoop(options: RunLoopOptions, signal: AbortSignal): Promise<RunLoopResult> {
  const { link, clock, log, mode } = options
  const backoff = createBackoff(options.baseDelayMs, options.maxDelayMs, clock.random)
  const ctx: ServeContext = { ...options, heartbeatMs: options.heartbeatMs }
  const wsRetryMs = options.wsRetryMs ?? WS_RETRY_INTERVAL_MS
  let wsRetryAt = 0
  let refusals = 0
  /** The last attempt reached no server at all. */
  let afterOutage = false

  const attempt = async (signal: AbortSignal): Promise<ServeOutcome> => {
    const retryMs = afterOutage ? Math.min(wsRetryMs, WS_RETRY_AFTER_OUTAGE_MS) : wsRetryMs
    const pollUntil = mode === 'long-poll' ? Number.POSITIVE_INFINITY : clock.now() + retryMs
    if (mode === 'long-poll' || clock.now() < wsRetryAt) return serveLongPoll(ctx, signal, pollUntil)
    try {
      return await serveWebSocket(ctx, signal)
    } catch (err) {
      if (!(err instanceof WebSocketUnavailable) || mode === 'websocket')
        return { healthyMs: 0, error: String(err) }
      log.info('WebSocket unavailable, using long-poll', { reason: err.message })
      const outcome = await serveLongPoll(ctx, signal, pollUntil)
      // Only stay on long-poll when it works; with the server down, try WebSocket first again.
      wsRetryAt = outcome.healthyMs > 0 ? pollUntil : 0
      return outcome
    }
  }

  while (!signal.aborted) {
    link.setConnection('connecting')
    const redial = new AbortController()
    const unsubscribe = link.onReconnectRequest?.(() => redial.abort())
    const outcome = await attempt(AbortSignal.any([signal, redial.signal])).finally(() => unsubscribe?.())
    if (signal.aborted) break
    afterOutage = outcome.healthyMs === 0 && !outcome.unauthorized
    if (redial.signal.aborted) {
      log.info('reconnecting with a new agent token')
      continue
    }
    link.setConnection('offline', undefined, outcome.unauthorized?.message ?? outcome.error)
    if (outcome.unauthorized) {
      refusals++
      log.warn('server refused the agent token', {
        reason: outcome.unauthorized.goodbye?.reason ?? 'unauthorized',
        confirmation: `${refusals}/${options.authConfirmations ?? AUTH_CONFIRMATIONS}`,
      })
      if (refusals >= (options.authConfirmations ?? AUTH_CONFIRMATIONS)) {
        return { reason: 'unauthorized', ...outcome.unauthorized }
      }
    } else if (outcome.healthyMs > 0) {
      refusals = 0
    }
    if (outcome.healthyMs >= (options.healthyResetMs ?? HEALTHY_RESET_MS)) backoff.reset()
    if (outcome.retryWebSocket) {
      wsRetryAt = 0
      continue
    }
    // At capacity the server names its own wait; never come back sooner than it asked.
    const delay = Math.max(backoff.next(), outcome.retryAfterMs ?? 0)
    log.info('reconnecting', { in_ms: Math.round(delay), ...(outcome.error ? { after: outcome.error } : {}) })
    await clock.sleep(delay, signal)
  }
  link.setConnection('stopped')
  return { reason: 'stopped' }
}
