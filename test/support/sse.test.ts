import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { formatSse } from '../../server/http/sse.ts'
import { SseParser } from './sse.ts'

describe('SSE framing and parsing', () => {
  test('a formatted frame parses back to the same id, event and data', () => {
    const p = new SseParser()
    const [ev] = p.push(formatSse({ id: 7, event: 'output', data: { line: 'a\nb' } }))
    expect(ev).toEqual({ id: '7', event: 'output', data: JSON.stringify({ line: 'a\nb' }) })
    expect(p.lastEventId).toBe('7')
  })

  test('comments, retry and multi-line data follow the spec', () => {
    const p = new SseParser()
    const events = p.push(': keep-alive\n\nretry: 1500\ndata: one\ndata: two\n\n')
    expect(events).toEqual([{ id: undefined, event: 'message', data: 'one\ntwo' }])
    expect(p.retry).toBe(1500)
  })

  test('property: any frames, split into any chunks, parse back exactly', () => {
    const frame = fc.record({
      id: fc.integer({ min: 0, max: 1e9 }),
      event: fc.constantFrom('output', 'status', 'message'),
      data: fc.jsonValue(),
    })
    fc.assert(
      fc.property(
        fc.array(frame, { minLength: 1, maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, cuts) => {
          const text = frames.map((f) => formatSse(f)).join('')
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
          const parser = new SseParser()
          const got = []
          let last = 0
          for (const point of [...points, text.length]) {
            got.push(...parser.push(text.slice(last, point)))
            last = point
          }
          expect(got.map((e) => ({ id: Number(e.id), event: e.event, data: JSON.parse(e.data) }))).toEqual(
            frames.map((f) => ({ id: f.id, event: f.event, data: JSON.parse(JSON.stringify(f.data)) })),
          )
        },
      ),
      { numRuns: 200 },
    )
  })
})
