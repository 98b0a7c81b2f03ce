import { describe, expect, test } from 'bun:test'
import { etagMatches, ifRangeAllows, parseRange } from './range.ts'

describe('parseRange', () => {
  test('no header or an unsupported form serves the whole body', () => {
    expect(parseRange(null, 100)).toBeNull()
    expect(parseRange('items=0-5', 100)).toBeNull()
    expect(parseRange('bytes=-', 100)).toBeNull()
    expect(parseRange('bytes=0-1,5-6', 100)).toBeNull()
    expect(parseRange('bytes=9-3', 100)).toBeNull()
  })

  test('explicit, open-ended and suffix ranges', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 })
    expect(parseRange('bytes=40-', 100)).toEqual({ start: 40, end: 99 })
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('Bytes = 5 - 5', 100)).toEqual({ start: 5, end: 5 })
  })

  test('an end past the file is clamped; a suffix longer than the file is the whole file', () => {
    expect(parseRange('bytes=90-500', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-500', 100)).toEqual({ start: 0, end: 99 })
  })

  test('a start at or past the end, or an empty suffix, is unsatisfiable', () => {
    expect(parseRange('bytes=100-', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=150-200', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=-0', 100)).toBe('unsatisfiable')
    expect(parseRange('bytes=0-', 0)).toBe('unsatisfiable')
  })
})

describe('validators', () => {
  test('If-None-Match compares weakly and accepts lists and *', () => {
    expect(etagMatches('"a-1"', '"a-1"')).toBe(true)
    expect(etagMatches('W/"a-1"', '"a-1"')).toBe(true)
    expect(etagMatches('"x", "a-1"', '"a-1"')).toBe(true)
    expect(etagMatches('*', '"a-1"')).toBe(true)
    expect(etagMatches('"a-2"', '"a-1"')).toBe(false)
    expect(etagMatches(null, '"a-1"')).toBe(false)
  })

  test('If-Range allows a partial answer only for the current strong ETag', () => {
    expect(ifRangeAllows(null, '"a-1"')).toBe(true)
    expect(ifRangeAllows('"a-1"', '"a-1"')).toBe(true)
    expect(ifRangeAllows('"a-0"', '"a-1"')).toBe(false)
    expect(ifRangeAllows('Wed, 21 Oct 2015 07:28:00 GMT', '"a-1"')).toBe(false)
  })
})
