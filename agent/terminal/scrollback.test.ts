import { describe, expect, test } from 'bun:test'
import { Scrollback } from './scrollback.ts'

const bytes = (s: string) => new TextEncoder().encode(s)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

describe('Scrollback', () => {
  test('reads from any offset, across chunks, up to a maximum', () => {
    const sb = new Scrollback(100)
    sb.append(bytes('hello '))
    sb.append(bytes('world'))
    expect(sb.end).toBe(11)
    expect(text(sb.read(0, 100).bytes)).toBe('hello world')
    expect(text(sb.read(3, 5).bytes)).toBe('lo wo')
    expect(sb.read(11, 10).bytes.length).toBe(0)
  })

  test('drops whole old chunks past its limit and clamps reads to what it holds', () => {
    const sb = new Scrollback(10)
    sb.append(bytes('aaaa'))
    sb.append(bytes('bbbb'))
    sb.append(bytes('cccc'))
    expect(sb.start).toBe(4)
    const { offset, bytes: got } = sb.read(0, 100)
    expect(offset).toBe(4)
    expect(text(got)).toBe('bbbbcccc')
  })
})
