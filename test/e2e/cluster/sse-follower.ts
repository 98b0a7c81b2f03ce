// A browser's EventSource in miniature: follows a session stream, and when the connection
// ends, reconnects (to wherever `url()` points now) with Last-Event-ID, counting connections.
import { type SseEvent, SseParser } from '../../support/sse.ts'
import { waitUntil } from '../../support/wait-until.ts'

/** Pause before a reconnect, like EventSource's retry. */
const RECONNECT_DELAY_MS = 200

export interface SseFollower {
  events: SseEvent[]
  connections(): number
  /** Resolves with the output events once there are at least `count`. */
  waitForOutput(count: number, timeoutMs?: number): Promise<SseEvent[]>
  waitForStatus(status: string, timeoutMs?: number): Promise<void>
  stop(): void
}

export function followSse(url: () => string, cookie: string): SseFollower {
  const events: SseEvent[] = []
  const abort = new AbortController()
  let connections = 0
  let lastEventId: string | undefined
  const output = () => events.filter((e) => e.event === 'output')

  void (async () => {
    while (!abort.signal.aborted) {
      try {
        const headers: Record<string, string> = { cookie }
        if (lastEventId !== undefined) headers['last-event-id'] = lastEventId
        const res = await fetch(url(), { headers, signal: abort.signal })
        if (res.ok && res.body) {
          connections++
          const parser = new SseParser()
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader()
          for (let r = await reader.read(); !r.done; r = await reader.read()) {
            for (const event of parser.push(r.value)) {
              events.push(event)
              if (event.id !== undefined) lastEventId = event.id
            }
          }
        }
      } catch {
        // The instance went away mid-stream or is not up yet: try again, as EventSource does.
      }
      await Bun.sleep(RECONNECT_DELAY_MS)
    }
  })()

  return {
    events,
    connections: () => connections,
    waitForOutput: (count, timeoutMs = 10_000) =>
      waitUntil(async () => (output().length >= count ? output() : undefined), {
        what: `${count} output events`,
        timeoutMs: timeoutMs,
      }),
    waitForStatus: async (status, timeoutMs = 10_000) => {
      await waitUntil(
        async () =>
          events.some((e) => e.event === 'status' && JSON.parse(e.data).status === status) ? true : undefined,
        { what: `status ${status}`, timeoutMs: timeoutMs },
      )
    },
    stop: () => abort.abort(),
  }
}
