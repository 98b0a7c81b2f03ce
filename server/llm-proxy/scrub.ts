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

/** Replaces `secret` in a byte stream. */
export function createScrubber(secret: string): Scrubber {
  const needle = Buffer.from(secret)
  const first = needle[0]!
  let held: Buffer | null = null

  const replaceAll = (data: Buffer): Buffer => {
    let at = data.indexOf(needle)
    if (at < 0) return data
    const parts: Uint8Array[] = []
    let from = 0
    while (at >= 0) {
      parts.push(data.subarray(from, at), REDACTED_BYTES)
      from = at + needle.length
      at = data.indexOf(needle, from)
    }
    parts.push(data.subarray(from))
    return Buffer.concat(parts)
  }

  /** Length of the longest tail of `data` that is a proper prefix of the secret. */
  const partialTail = (data: Buffer): number => {
    const start = Math.max(0, data.length - needle.length + 1)
    for (let i = data.indexOf(first, start); i >= 0; i = data.indexOf(first, i + 1)) {
      const tail = data.length - i
      if (data.subarray(i).equals(needle.subarray(0, tail))) return tail
    }
    return 0
  }

  return {
    push(chunk) {
      let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      if (held) {
        data = Buffer.concat([held, data])
        held = null
      }
      data = replaceAll(data)
      const tail = partialTail(data)
      if (tail) {
        held = Buffer.from(data.subarray(data.length - tail))
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
