// Server-Sent Events framing for the browser's event streams (a session's output, its changes,
// the admin views' live lists). Data is one JSON line, so a frame can never be split by a
// newline inside a message; a session stream's ids are output seqs, which is what makes
// Last-Event-ID resumption exact.
import { Type } from '@sinclair/typebox'
import { documented } from './schema.ts'

export interface SseFrame {
  id?: string | number
  event?: string
  data: unknown
}

export function formatSse(frame: SseFrame): string {
  let out = ''
  if (frame.id !== undefined) out += `id: ${frame.id}\n`
  if (frame.event) out += `event: ${frame.event}\n`
  return `${out}data: ${JSON.stringify(frame.data)}\n\n`
}

const encoder = new TextEncoder()

/**
 * Ends an event stream with a last event saying why (e.g. `access.revoked`): the frame, then the
 * stream's own clean-up, then the close. A stream the browser cancelled meanwhile gets neither.
 */
export function endSse(
  controller: ReadableStreamDefaultController<Uint8Array>,
  last: SseFrame,
  cleanUp: () => void,
): void {
  try {
    controller.enqueue(encoder.encode(formatSse(last)))
    controller.close()
  } catch {
    // Cancelled already: its cancel() cleaned up.
  }
  cleanUp()
}

/** A comment line: keeps proxies from closing an idle stream, ignored by EventSource. */
export const SSE_KEEPALIVE = ': keep-alive\n\n'
/** How often a stream sends it: well under the minute proxies commonly close idle streams after. */
export const SSE_KEEPALIVE_MS = 15_000
/** Sends the keep-alive comment every `ms` until the returned timer is cleared. */
export const keepAlive = (send: (text: string) => void, ms = SSE_KEEPALIVE_MS) =>
  setInterval(() => send(SSE_KEEPALIVE), ms)
export const SSE_RETRY_MS = 2000
export const sseRetry = (ms = SSE_RETRY_MS) => `retry: ${ms}\n\n`

/** The headers of every event stream: no caching, no buffering by a proxy in between. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache, no-transform',
  connection: 'keep-alive',
  'x-accel-buffering': 'no',
} as const

/**
 * The OpenAPI answer of an event-stream route, for its `detail.responses`: a stream is not a
 * value Elysia could check against a `response` schema, so it is only documented.
 */
export const sseResponses = (description: string) =>
  documented(200, description, { 'text/event-stream': Type.String() })
