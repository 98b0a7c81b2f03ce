// Serves one WebSocket connection: hello -> welcome, then re-send every unconfirmed frame and
// stream new ones as they are queued, heartbeat on the interval, and hand commands to the agent.
// Ends when the socket closes, the server goes silent, a goodbye arrives, or the loop stops.
import { CLOSE_GOODBYE } from '../../protocol/index.ts'
import { dispatchServerFrame, UNSTORED } from './dispatch.ts'
import {
  HANDSHAKE_TIMEOUT_MS,
  heartbeatFrame,
  type ServeContext,
  type ServeOutcome,
  SILENT_INTERVALS_BEFORE_DEAD,
} from './serve.ts'
import { TransportError, type WsChannel } from './transport.ts'

/** Thrown when the socket could not open at all (the loop may fall back to long-poll). */
export class WebSocketUnavailable extends Error {
  override name = 'WebSocketUnavailable'
}

export async function serveWebSocket(ctx: ServeContext, signal: AbortSignal): Promise<ServeOutcome> {
  const { link, clock, log } = ctx
  const stop = new AbortController()
  const both = AbortSignal.any([signal, stop.signal])
  let finish!: (o: Omit<ServeOutcome, 'healthyMs'>) => void
  const ended = new Promise<Omit<ServeOutcome, 'healthyMs'>>((resolve) => {
    finish = (o) => {
      stop.abort()
      resolve(o)
    }
  })
  let welcomed = 0
  let onWelcome!: () => void
  const welcome = new Promise<void>((resolve) => {
    onWelcome = resolve
  })
  /** Heartbeats sent since the server last said anything. */
  let unanswered = 0
  let cursor = 0
  let channel: WsChannel
  link.outbox.startWindow()

  const flush = () => {
    if (!welcomed || stop.signal.aborted) return
    for (const frame of link.takeControlFrames()) channel.send(JSON.stringify(frame))
    // Within the outbox's window: the rest goes as the server's receipts come back.
    for (const entry of link.outbox.takeSendable(cursor)) {
      channel.send(entry.text)
      cursor = entry.n
    }
  }

  try {
    channel = await ctx.transport.openWebSocket(
      {
        onMessage(text) {
          unanswered = 0
          const result = dispatchServerFrame(text, link, log)
          if (result.welcome) {
            welcomed = clock.now()
            ctx.heartbeatMs = result.welcome.heartbeat_interval_seconds * 1000
            link.setConnection('online', 'websocket')
            log.info('connected', { transport: 'websocket' })
            onWelcome()
            flush()
          }
          if (result.goodbye)
            finish({ unauthorized: { goodbye: result.goodbye, message: result.goodbye.message } })
          else if (result.unstored) finish({ error: UNSTORED })
        },
        onBinary(data) {
          unanswered = 0
          link.onBinary(data)
        },
        onClose(code, reason) {
          if (code === CLOSE_GOODBYE) finish({ unauthorized: { message: reason || 'server said goodbye' } })
          else finish({ error: `WebSocket closed (${code}${reason ? ` ${reason}` : ''})` })
        },
      },
      both,
    )
  } catch (err) {
    throw new WebSocketUnavailable(err instanceof TransportError ? err.message : String(err))
  }

  // Terminal traffic may start before the welcome (the server reopens watched terminals at once).
  link.setBinarySink((data) => channel.sendBinary(data))
  const unsubscribe = [link.outbox.onSendable(flush), link.onControlFrame(flush)]
  channel.send(JSON.stringify(link.hello()))
  const heartbeats = (async () => {
    await Promise.race([welcome, clock.sleep(HANDSHAKE_TIMEOUT_MS, both)])
    if (!welcomed && !both.aborted) finish({ error: 'the server did not answer hello' })
    while (!both.aborted) {
      await clock.sleep(ctx.heartbeatMs, both)
      if (both.aborted) break
      if (unanswered >= SILENT_INTERVALS_BEFORE_DEAD) {
        finish({ error: 'no answer from the server' })
        break
      }
      if (welcomed) {
        channel.send(JSON.stringify(heartbeatFrame(ctx)))
        unanswered++
      }
    }
  })()
  const onAbort = () => finish({})
  signal.addEventListener('abort', onAbort, { once: true })

  const outcome = await ended
  signal.removeEventListener('abort', onAbort)
  link.setBinarySink(null)
  for (const off of unsubscribe) off()
  channel.close(1000, 'agent reconnecting')
  await heartbeats
  return { ...outcome, healthyMs: welcomed ? clock.now() - welcomed : 0 }
}
