// The key scrubber: the real key never survives, however the upstream's bytes are split.
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { createScrubber, downstreamHeaders, REDACTED } from './scrub.ts'

const KEY = 'sk-real-secret-ABCDEF0123'
const enc = new TextEncoder()
const dec = new TextDecoder()

function run(parts: string[]): string {
  const s = createScrubber(KEY)
  const out: Uint8Array[] = parts.map((p) => s.push(enc.encode(p)))
  const tail = s.finish()
  if (tail) out.push(tail)
  return out.map((b) => dec.decode(b)).join('')
}

describe('key scrubber', () => {
  test('every occurrence is replaced, whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(KEY), fc.string(), fc.constant(KEY.slice(0, 5))), { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 6 }),
        (pieces, cuts) => {
          const text = pieces.join('')
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
          const parts: string[] = []
          let from = 0
          for (const p of points) {
            parts.push(text.slice(from, p))
            from = p
          }
          parts.push(text.slice(from))
          const out = run(parts)
          expect(out).toBe(text.replaceAll(KEY, REDACTED))
        },
      ),
      { numRuns: 500 },
    )
  })

  test('an SSE chunk that cannot start the key goes on at once, unchanged', () => {
    const s = createScrubber(KEY)
    const chunk = enc.encode('data: {"a":1}\n\n')
    expect(s.push(chunk)).toEqual(chunk)
    expect(s.finish()).toBeNull()
  })

  test('headers: only allowlisted ones pass, with the key replaced', () => {
    const h = downstreamHeaders(
      new Headers({
        'content-type': 'application/json',
        'x-request-id': `id ${KEY}`,
        'set-cookie': 'a=b',
        'x-ratelimit-remaining-requests': '9',
        'x-internal': KEY,
      }),
      KEY,
    )
    expect([...h]).toEqual([
      ['content-type', 'application/json'],
      ['x-ratelimit-remaining-requests', '9'],
      ['x-request-id', `id ${REDACTED}`],
    ])
  })
})
