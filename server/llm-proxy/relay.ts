// Relays the upstream answer to the client while the meter counts it. Streams are passed on
// chunk by chunk, pulled only as fast as the client reads (back-pressure), and a client that
// goes away cancels the upstream request. A small complete answer (not SSE, Content-Length
// known) is read in one go: it has already been produced, and one native body beats a stream.
// An upstream that goes quiet for longer than the idle timeout is cut off (counted as 504).
import { Buffer } from 'node:buffer'
import { createScrubber, downstreamHeaders } from './scrub.ts'
import type { Meter } from './usage.ts'

/** Status recorded for a request the client abandoned (nginx's convention). */
export const CLIENT_CLOSED = 499
/** Status recorded for an answer the upstream stopped sending (idle timeout). */
export const UPSTREAM_IDLE = 504
/** Complete (non-SSE) answers up to this size are forwarded as one body. */
const SMALL_BODY_BYTES = 256 * 1024

export async function relayResponse(
  upstream: Response,
  meter: Meter,
  abort: AbortController,
  secret: string,
  idleTimeoutMs: number,
  onEnd: (status: number) => void,
): Promise<Response> {
  const status = upstream.status
  const headers = downstreamHeaders(upstream.headers, secret)
  const scrubber = createScrubber(secret)
  let ended = false
  let idle = false
  /** Only silence while we wait for the upstream counts; a slow client reading is not idle. */
  let waiting = true
  // One timer per answer, pushed back on every read (refresh), not one per chunk.
  const idleTimer = setTimeout(function fire() {
    if (!waiting) return void idleTimer.refresh()
    idle = true
    abort.abort()
  }, idleTimeoutMs)
  const end = (s: number) => {
    clearTimeout(idleTimer)
    if (ended) return
    ended = true
    onEnd(s)
  }
  const failed = () => (idle ? UPSTREAM_IDLE : abort.signal.aborted ? CLIENT_CLOSED : 502)
  if (!upstream.body) {
    end(status)
    return new Response(null, { status, headers })
  }
  const length = Number(upstream.headers.get('content-length') ?? Number.NaN)
  const sse = (upstream.headers.get('content-type') ?? '').includes('text/event-stream')
  // A proxy in front (nginx buffers by default) must pass each event on as it comes.
  if (sse) headers.set('x-accel-buffering', 'no')
  if (!sse && length <= SMALL_BODY_BYTES) {
    let bytes: Uint8Array
    try {
      bytes = new Uint8Array(await upstream.arrayBuffer())
    } catch {
      const code = failed()
      end(code)
      return new Response(null, { status: code })
    }
    meter.push(bytes)
    meter.finish()
    end(status)
    const clean = scrubber.push(bytes)
    const tail = scrubber.finish()
    const out = tail ? Buffer.concat([clean, tail]) : clean
    return new Response(out as Uint8Array<ArrayBuffer>, { status, headers })
  }
  const reader = upstream.body.getReader()
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          // A pull must enqueue or close: a chunk the meter held back (a partial event, the
          // stripped usage chunk) would otherwise leave the client waiting for a pull that
          // never comes (highWaterMark 0), so keep reading until there is something to send.
          for (;;) {
            waiting = true
            idleTimer.refresh()
            const next = await reader.read()
            waiting = false
            if (next.done) {
              const tail = meter.finish()
              const clean = tail ? scrubber.push(tail) : null
              if (clean?.byteLength) controller.enqueue(clean)
              const held = scrubber.finish()
              if (held) controller.enqueue(held)
              end(status)
              controller.close()
              return
            }
            const metered = meter.push(next.value)
            const out = metered ? scrubber.push(metered) : null
            if (out?.byteLength) {
              controller.enqueue(out)
              // The answer is complete: count it now, before the client (done reading) hangs up.
              if (meter.complete) end(status)
              return
            }
          }
        } catch (error) {
          end(failed())
          controller.error(error)
        }
      },
      cancel(reason) {
        end(meter.complete ? status : CLIENT_CLOSED)
        abort.abort()
        return reader.cancel(reason).catch(() => {})
      },
    },
    { highWaterMark: 0 },
  )
  return new Response(body, { status, headers })
}
