import { describe, expect, test } from 'bun:test'
import { appendFileSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AgentFrame } from '../protocol/index.ts'
import { Outbox } from './outbox.ts'

const frame = (id: string, data = 'x'): AgentFrame & { id: string } => ({
  type: 'session.output',
  id,
  session_id: 's1',
  records: [{ seq: Number(id.slice(1)), stream: 'stdout', data, ts: '2026-01-01T00:00:00.000Z' }],
})
const spool = () => join(mkdtempSync(join(tmpdir(), 'oa-outbox-')), 'outbox.spool')

describe('outbox', () => {
  test('keeps frames in order until received, and a restarted agent finds the rest in the spool', () => {
    const path = spool()
    const a = new Outbox({ spoolPath: path })
    for (const id of ['f1', 'f2', 'f3']) a.push(frame(id))
    a.received(['f2'])
    expect(a.pendingAfter(0).map((e) => e.id)).toEqual(['f1', 'f3'])
    const b = new Outbox({ spoolPath: path })
    expect(b.pendingAfter(0).map((e) => JSON.parse(e.text))).toEqual([frame('f1'), frame('f3')])
    b.received(['f1', 'f3'])
    expect(readFileSync(path, 'utf8')).toBe('')
    expect(new Outbox({ spoolPath: path }).size).toBe(0)
  })

  test("a restarted agent reads a session's last spooled seq back, so it never reuses one", () => {
    const path = spool()
    const a = new Outbox({ spoolPath: path })
    for (const id of ['f4', 'f5', 'f9']) a.push(frame(id))
    a.push({ type: 'session.output', id: 'other', session_id: 's2', records: [] })
    a.received(['f9'])
    const b = new Outbox({ spoolPath: path })
    expect(b.lastOutputSeq('s1')).toBe(5)
    expect(b.lastOutputSeq('s2')).toBe(-1)
    expect(b.lastOutputSeq('unknown')).toBe(-1)
  })

  test('past the memory budget frames live only in the spool and are read back intact', () => {
    const path = spool()
    const box = new Outbox({ spoolPath: path, maxMemoryBytes: 500 })
    const frames = Array.from({ length: 20 }, (_, i) => frame(`f${i}`, `línea ${i} ${'é'.repeat(30)}`))
    for (const f of frames) box.push(f)
    expect(box.pendingAfter(0).map((e) => JSON.parse(e.text))).toEqual(frames)
    expect((box as unknown as { memoryBytes: number }).memoryBytes).toBeLessThanOrEqual(500)
  })

  test('the total is bounded: the oldest frames are dropped and reported', () => {
    let dropped = 0
    const box = new Outbox({ spoolPath: spool(), maxSpoolBytes: 1000, onDrop: (n) => (dropped += n) })
    for (let i = 0; i < 30; i++) box.push(frame(`f${i}`))
    expect(dropped).toBeGreaterThan(0)
    expect(box.pendingAfter(0).at(-1)?.id).toBe('f29')
    expect(box.size + dropped).toBe(30)
  })

  test('a line cut short by a crash is skipped and does not corrupt later frames', () => {
    const path = spool()
    new Outbox({ spoolPath: path }).push(frame('f1'))
    appendFileSync(path, '{"f":{"type":"session.out')
    const box = new Outbox({ spoolPath: path })
    box.push(frame('f2'))
    expect(new Outbox({ spoolPath: path }).pendingAfter(0).map((e) => e.id)).toEqual(['f1', 'f2'])
  })

  test('a connection sends within its window: more only as the server answers', () => {
    const box = new Outbox()
    for (let i = 1; i <= 10; i++) box.push(frame(`f${i}`, 'x'.repeat(1000)))
    const window = { frames: 4, bytes: 1_000_000 }
    box.startWindow()
    let sent = box.takeSendable(0, window)
    expect(sent.map((e) => e.id)).toEqual(['f1', 'f2', 'f3', 'f4'])
    let cursor = sent.at(-1)!.n
    // Nothing more until an answer comes, however often it is asked.
    expect(box.takeSendable(cursor, window)).toEqual([])
    let woken = 0
    box.onSendable(() => woken++)
    box.received(['f1', 'f2'])
    expect(woken).toBe(1)
    sent = box.takeSendable(cursor, window)
    expect(sent.map((e) => e.id)).toEqual(['f5', 'f6'])
    cursor = sent.at(-1)!.n
    // A retryable refusal frees the window but keeps the frame for the next connection.
    box.answered(['f3'])
    expect(box.takeSendable(cursor, window).map((e) => e.id)).toEqual(['f7'])
    expect(box.pendingAfter(0).map((e) => e.id)).toContain('f3')
    // A new connection starts with an empty window and everything unconfirmed.
    box.startWindow()
    expect(box.takeSendable(0, window).map((e) => e.id)).toEqual(['f3', 'f4', 'f5', 'f6'])
  })

  test('the window is counted in bytes too, and one frame always fits an empty one', () => {
    const box = new Outbox()
    for (let i = 1; i <= 4; i++) box.push(frame(`f${i}`, 'x'.repeat(3000)))
    box.startWindow()
    const window = { frames: 100, bytes: 7000 }
    const sent = box.takeSendable(0, window)
    expect(sent.map((e) => e.id)).toEqual(['f1', 'f2'])
    box.received(['f1', 'f2'])
    const tiny = box.takeSendable(sent.at(-1)!.n, { frames: 100, bytes: 10 })
    expect(tiny.map((e) => e.id)).toEqual(['f3'])
  })
})
