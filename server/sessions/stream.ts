// GET /api/remote/sessions/{id}/stream: Server-Sent Events for the browser. Each output record
// is an `output` event whose id is its seq, so a reconnecting EventSource (Last-Event-ID) gets
// exactly what it missed. A live event's records are sent only when they are exactly the next
// ones (output an agent sent here, even before it is stored; else once stored); anything else
// makes the stream read from the database in seq order, which is what keeps the stream free of
// gaps and repeats. When access
// the stream depends on is revoked (anywhere), it sends a final `access.revoked` event with the
// reason and closes.
import {
  type AccessRevokedEvent,
  accessRevokedFrame,
  subscribeAccessRevoked,
  touches,
} from '../access/events.ts'
import type { AppContext } from '../context/index.ts'
import { endSse, formatSse, keepAlive, SSE_HEADERS, sseRetry } from '../http/sse.ts'
import { type StoredOutputRecord, subscribeArrivingOutput, subscribeSessionEvents } from './events.ts'
import { outputPage } from './view.ts'

const PAGE = 500

export interface StreamOptions {
  sessionId: string
  /** The last seq the browser has (Last-Event-ID); -1 for everything. */
  after: number
  status: string
  /**
   * The status as it is now, read again once the stream listens: a change between the read of
   * `status` and the subscription would otherwise show stale until the next one.
   */
  currentStatus(): Promise<string>
  keepaliveMs?: number
  /** Who watches, and how to ask the access rule whether they still may (after a revocation). */
  viewer: { userId: number; machineId: string | null; stillAllowed(): Promise<boolean> }
}

export async function openSessionStream(ctx: AppContext, options: StreamOptions): Promise<Response> {
  const encoder = new TextEncoder()
  let lastSent = options.after
  let closed = false
  let pumping = false
  let dirty = true
  let unsubscribe: (() => void) | undefined
  let unsubscribeArriving: (() => void) | undefined
  let unwatch: (() => void) | undefined
  let keepalive: ReturnType<typeof setInterval> | undefined
  const finish = () => {
    if (closed) return
    closed = true
    if (unsubscribe) ctx.state.metrics.sseSubscribers.dec()
    unsubscribe?.()
    unsubscribeArriving?.()
    unwatch?.()
    clearInterval(keepalive)
  }

  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text))
      }
      const pump = async () => {
        if (pumping) return
        pumping = true
        try {
          while (dirty && !closed) {
            dirty = false
            const page = await outputPage(ctx, options.sessionId, lastSent, PAGE)
            for (const record of page.records) {
              send(formatSse({ id: record.seq, event: 'output', data: record }))
              lastSent = record.seq
            }
            if (page.hasMore) dirty = true
          }
        } catch (error) {
          ctx.log.warn('session stream read failed', { session_id: options.sessionId, error })
        } finally {
          pumping = false
        }
      }
      /** Sends the records past lastSent when they are exactly the next ones; false if they are not. */
      const sendNext = (records: StoredOutputRecord[]): boolean => {
        const fresh = records.filter((r) => r.seq > lastSent)
        if (fresh.length === 0) return true
        if (pumping || fresh[0]!.seq !== lastSent + 1 || !isContiguous(fresh)) return false
        for (const { ts, ...record } of fresh) {
          send(formatSse({ id: record.seq, event: 'output', data: { ...record, timestamp: ts } }))
          lastSent = record.seq
        }
        return true
      }
      const revoked = async (event: AccessRevokedEvent) => {
        const subject = {
          userId: options.viewer.userId,
          machineId: options.viewer.machineId,
          sessionId: options.sessionId,
        }
        if (closed || !touches(event, subject)) return
        // A session the revocation ended closes for every viewer; otherwise ask the rule.
        const ended = event.scope.session_ids?.includes(options.sessionId) ?? false
        if (!ended && (await options.viewer.stillAllowed())) return
        endSse(controller, accessRevokedFrame(event.reason), finish)
      }
      unwatch = await subscribeAccessRevoked(ctx, (event) => {
        void revoked(event).catch((error) =>
          ctx.log.warn('session stream access check failed', { session_id: options.sessionId, error }),
        )
      })
      send(sseRetry())
      let shownStatus = options.status
      /** Status events sent so far: a read that overlapped one may be older than it. */
      let statusEvents = 0
      const sendStatus = (status: string) => {
        shownStatus = status
        send(formatSse({ event: 'status', data: { status } }))
      }
      sendStatus(options.status)
      // Subscribe before the first read: output stored meanwhile is then read, not missed.
      unsubscribe = await subscribeSessionEvents(ctx, options.sessionId, (event) => {
        if (event.type === 'status') {
          statusEvents++
          sendStatus(event.status)
        } else if (event.type === 'permission') send(formatSse({ event: 'permission', data: event.outcome }))
        else if (event.type === 'alert') send(formatSse({ event: 'alert', data: event.alert }))
        // The usual case: exactly the next records (or ones sent as they arrived); no second read.
        else if (!sendNext(event.records)) {
          dirty = true
          void pump()
        }
      })
      // Records not the next ones as they arrive wait for their stored event (or the read).
      unsubscribeArriving = subscribeArrivingOutput(
        ctx,
        options.sessionId,
        (records) => void sendNext(records),
      )
      ctx.state.metrics.sseSubscribers.inc()
      keepalive = keepAlive(send, options.keepaliveMs)
      const eventsBefore = statusEvents
      const [now] = await Promise.all([
        options.currentStatus().catch((error) => {
          ctx.log.warn('session stream status read failed', { session_id: options.sessionId, error })
          return shownStatus
        }),
        pump(),
      ])
      // A status event that came meanwhile is at least as new as the read.
      if (statusEvents === eventsBefore && now !== shownStatus) sendStatus(now)
    },
    cancel() {
      finish()
    },
  })
  return new Response(stream, {
    headers: SSE_HEADERS,
  })
}

function isContiguous(records: Array<{ seq: number }>): boolean {
  return records.every((r, i) => i === 0 || r.seq === records[i - 1]!.seq + 1)
}

/** Last-Event-ID from the header EventSource sends on reconnect, or ?last_event_id= for a first connect. */
export function resumePoint(request: Request): number {
  const raw = request.headers.get('last-event-id') ?? new URL(request.url).searchParams.get('last_event_id')
  if (raw === null || raw === '') return -1
  const n = Number(raw)
  return Number.isInteger(n) && n >= -1 ? n : -1
}
