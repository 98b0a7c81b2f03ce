// Serves the HTTP long-poll channel: a hello round trip, then one request always waiting for
// commands (and terminal input) while a second, non-waiting request carries output, acks,
// heartbeats and terminal output as soon as they are queued. Ends on an error, a refusal, when
// the loop stops, or at `until` (time to try WebSocket again).
import { Buffer } from 'node:buffer'
import {
  type AgentFrame,
  type LongPollResponse,
  MAX_TERMINAL_MESSAGES_PER_POLL,
  TERMINAL_POLL_BATCH_BYTES,
} from '../../protocol/index.ts'
import { dispatchServerFrame, UNSTORED } from './dispatch.ts'
import { heartbeatFrame, type ServeContext, type ServeOutcome } from './serve.ts'
import { TransportError } from './transport.ts'

export async function serveLongPoll(
  ctx: ServeContext,
  signal: AbortSignal,
  until: number,
): Promise<ServeOutcome> {
  const { link, clock, log, transport } = ctx
  const stop = new AbortController()
  const both = AbortSignal.any([signal, stop.signal])
  let outcome: Omit<ServeOutcome, 'healthyMs'> | undefined
  const end = (o: Omit<ServeOutcome, 'healthyMs'>) => {
    outcome ??= o
    stop.abort()
  }
  const fail = (err: unknown) => {
    if (both.aborted) return
    if (err instanceof TransportError && err.kind === 'unauthorized') {
      end({ unauthorized: { message: err.message, ...(err.goodbye ? { goodbye: err.goodbye } : {}) } })
    } else
      end({
        error: (err as Error).message,
        ...(err instanceof TransportError && err.retryAfterMs ? { retryAfterMs: err.retryAfterMs } : {}),
      })
  }
  const handle = (res: LongPollResponse) => {
    for (const text of res.terminal ?? []) link.onBinary(new Uint8Array(Buffer.from(text, 'base64')))
    for (const frame of [...res.replies, ...res.commands]) {
      const result = dispatchServerFrame(frame, link, log)
      if (result.goodbye) end({ unauthorized: { goodbye: result.goodbye, message: result.goodbye.message } })
      else if (result.unstored) end({ error: UNSTORED })
    }
  }

  let welcomed = 0
  try {
    const res = await transport.poll({ events: [link.hello()], wait: false }, both)
    handle(res)
    const welcome = res.replies.find((r) => r.type === 'welcome')
    if (welcome?.type === 'welcome') ctx.heartbeatMs = welcome.heartbeat_interval_seconds * 1000
    welcomed = clock.now()
    link.setConnection('online', 'long-poll')
    log.info('connected', { transport: 'long-poll' })
  } catch (err) {
    fail(err)
    return { ...outcome!, healthyMs: 0 }
  }

  let cursor = 0
  link.outbox.startWindow()
  // Terminal output and states waiting for the next request. Bounded by the terminals' own
  // flow-control window: they send only what the browser has nearly acknowledged.
  const terminalOut: Uint8Array[] = []
  const takeTerminal = () => {
    let bytes = 0
    let count = 0
    for (const m of terminalOut) {
      if (
        count >= MAX_TERMINAL_MESSAGES_PER_POLL ||
        (count > 0 && bytes + m.length > TERMINAL_POLL_BATCH_BYTES)
      )
        break
      bytes += m.length
      count++
    }
    return terminalOut.splice(0, count).map((m) => Buffer.from(m).toString('base64'))
  }
  let sending = false
  let again = false
  let heartbeatDue = false
  const send = async () => {
    if (sending) {
      again = true
      return
    }
    sending = true
    try {
      do {
        again = false
        // At most a window's worth per request; its answer settles all of it, so the next may go.
        const entries = link.outbox.takeSendable(cursor)
        const events: AgentFrame[] = [...link.takeControlFrames(), ...entries.map((e) => JSON.parse(e.text))]
        if (heartbeatDue) events.push(heartbeatFrame(ctx))
        heartbeatDue = false
        const terminal = takeTerminal()
        if (events.length === 0 && terminal.length === 0) break
        const last = entries.at(-1)
        if (last) cursor = last.n
        const res = await transport.poll(
          { events, wait: false, ...(terminal.length ? { terminal } : {}) },
          both,
        )
        link.outbox.startWindow()
        handle(res)
        if (entries.length > 0 || terminalOut.length > 0) again = true
      } while (again && !both.aborted)
    } catch (err) {
      fail(err)
    } finally {
      sending = false
    }
  }
  const unsubscribe = [link.outbox.onSendable(() => void send()), link.onControlFrame(() => void send())]
  link.setBinarySink((data) => {
    terminalOut.push(data)
    void send()
  })
  void send()

  const heartbeats = (async () => {
    while (!both.aborted) {
      await clock.sleep(Math.min(ctx.heartbeatMs, Math.max(0, until - clock.now())), both)
      if (both.aborted) break
      if (clock.now() >= until) end({ retryWebSocket: true })
      else {
        heartbeatDue = true
        void send()
      }
    }
  })()
  const waiting = (async () => {
    while (!both.aborted) {
      try {
        handle(await transport.poll({ events: [], wait: true }, both))
      } catch (err) {
        fail(err)
      }
    }
  })()

  await Promise.all([heartbeats, waiting])
  link.setBinarySink(null)
  for (const off of unsubscribe) off()
  return { ...(outcome ?? {}), healthyMs: clock.now() - welcomed }
}
