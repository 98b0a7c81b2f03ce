// What an upstream answer may carry back to the client: response headers pass through an
// allowlist, and any occurrence of the real key (an upstream that echoes credentials) is replaced
// in header values and in the body, streamed included and across chunk boundaries. The body scan
// is a native byte search; only a chunk whose last bytes could start the key is held back (an
// SSE chunk ends in a newline, which no key starts with, so streams are not delayed).
import { Buffer } from 'node:buffer'

export const REDACTED = '[redacted]'
const REDACTED_BYTES = new TextEncoder().encode(REDACTED)

/** Response headers a client may see: content metadata, request ids, rate-limit and retry hints. */
const ALLOWED_RESPONSE_HEADERS = new Set([
  'content-type',
  'cache-control',
  'retry-after',
  'retry-after-ms',
  'x-should-retry',
  'request-id',
  'x-request-id',
  'openai-processing-ms',
  'openai-version',
  'openai-model',
  'anthropic-version',
])
const ALLOWED_RESPONSE_PREFIXES = ['x-ratelimit-', 'anthropic-ratelimit-']

export function downstreamHeaders(upstream: Headers, secret: string): Headers {
  const headers = new Headers()
  for (const [name, value] of upstream) {
    if (!ALLOWED_RESPONSE_HEADERS.has(name) && !ALLOWED_RESPONSE_PREFIXES.some((p) => name.startsWith(p)))
      continue
    headers.append(name, value.includes(secret) ? value.replaceAll(secret, REDACTED) : value)
  }
  return headers
}

export interface Scrubber {
  /** The chunk with every complete occurrence replaced; a possible start of one is held back. */
  push(chunk: Uint8Array): Uint8Array
  /** What is still held back, at the end of the body. */
  finish(): Uint8Array | null
}

/**
 * A native byte search on any Uint8Array. Chunks of a fetch body are plain Uint8Arrays, and
 * wrapping one in a Buffer (Buffer.from(chunk.buffer, ...)) first makes the engine materialise
 * its ArrayBuffer, which costs more than the search itself.
 */
const indexOf = (data: Uint8Array, value: Uint8Array | number, from = 0): number =>
  Buffer.prototype.indexOf.call(data, value, from)

/** Replaces `secret` in a byte stream. */
export function createScrubber(secret: string): Scrubber {
  const needle = Buffer.from(secret)
  const first = needle[0]!
  let held: Uint8Array | null = null

  const replaceAll = (data: Uint8Array, at: number): Uint8Array => {
    const parts: Uint8Array[] = []
    let from = 0
    while (at >= 0) {
      parts.push(data.subarray(from, at), REDACTED_BYTES)
      from = at + needle.length
      at = indexOf(data, needle, from)
    }
    parts.push(data.subarray(from))
    return Buffer.concat(parts)
  }

  /** Length of the longest tail of `data` that is a proper prefix of the secret. */
  const partialTail = (data: Uint8Array): number => {
    const start = Math.max(0, data.length - needle.length + 1)
    for (let i = indexOf(data, first, start); i >= 0; i = indexOf(data, first, i + 1)) {
      let j = 1
      while (i + j < data.length && data[i + j] === needle[j]) j++
      if (i + j === data.length) return j
    }
    return 0
  }

  return {
    push(chunk) {
      let data = chunk
      if (held) {
        data = Buffer.concat([held, chunk])
        held = null
      }
      const at = indexOf(data, needle)
      if (at >= 0) data = replaceAll(data, at)
      const tail = partialTail(data)
      if (tail) {
        held = new Uint8Array(data.subarray(data.length - tail))
        data = data.subarray(0, data.length - tail)
      }
      return data
    },
    finish() {
      const rest = held
      held = null
      return rest
    },
  }
}
