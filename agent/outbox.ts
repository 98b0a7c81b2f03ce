// Frames the server has not yet confirmed (`received`): kept in order, re-sent after every
// reconnect, and journaled to a spool file so an agent restart loses nothing either. Memory use
// is bounded: past the memory budget a frame lives only in the spool and is read back to send.
// A connection sends through a window: at most SEND_WINDOW frames / bytes it has sent and the
// server has not answered yet, more as answers come. A server that answers slowly (it paces an
// agent that floods output) so slows the agent down instead of piling frames up on either side.
import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  readSync,
  writeFileSync,
} from 'node:fs'
import type { AgentFrame } from '../protocol/index.ts'

/** Frame text kept in memory; beyond this, frames are read back from the spool when sent. */
export const DEFAULT_MAX_MEMORY_BYTES = 8 * 1024 * 1024
/** Unconfirmed frames kept at all; past this the oldest are dropped (and logged). */
export const DEFAULT_MAX_SPOOL_BYTES = 256 * 1024 * 1024
/** The spool is rewritten when its dead (confirmed) part passes this size. */
const COMPACT_AFTER_BYTES = 4 * 1024 * 1024
const FRAME_PREFIX = '{"f":'

/** Frames and bytes one connection may have sent and not yet had answered. */
export interface SendWindow {
  frames: number
  bytes: number
}
/** Under the long-poll body limit (the protocol's 4 MiB frame limit) with room for acks. */
export const SEND_WINDOW: SendWindow = { frames: 256, bytes: 2 * 1024 * 1024 }

/** A frame as its producer builds it; the outbox's owner adds the id. */
export type FrameBody<F> = F extends unknown ? Omit<F, 'id'> : never

export interface OutboxEntry {
  /** Local order number, increasing; a connection remembers the last one it sent. */
  readonly n: number
  readonly id: string
  readonly bytes: number
  /** The frame's JSON, or null while it lives only in the spool. */
  text: string | null
  /** Byte offset of the frame JSON inside the spool file. */
  offset: number
}

export interface OutboxOptions {
  spoolPath?: string
  maxMemoryBytes?: number
  maxSpoolBytes?: number
  onDrop?: (count: number) => void
}

export class Outbox {
  private entries: OutboxEntry[] = []
  private byId = new Map<string, OutboxEntry>()
  private counter = 0
  private memoryBytes = 0
  private pendingBytes = 0
  private spoolBytes = 0
  private listeners = new Set<() => void>()
  /** Frames sent on the current connection and not answered yet, with their sizes. */
  private inFlight = new Map<string, number>()
  private inFlightBytes = 0
  private readonly maxMemory: number
  private readonly maxSpool: number

  constructor(private readonly options: OutboxOptions = {}) {
    this.maxMemory = options.maxMemoryBytes ?? DEFAULT_MAX_MEMORY_BYTES
    this.maxSpool = options.maxSpoolBytes ?? DEFAULT_MAX_SPOOL_BYTES
    if (options.spoolPath && existsSync(options.spoolPath)) this.load(options.spoolPath)
  }

  get size(): number {
    return this.entries.length
  }

  /** Queues a frame that carries an id; it stays until received() names that id. */
  push(frame: AgentFrame & { id: string }): void {
    if (this.byId.has(frame.id)) return
    const text = JSON.stringify(frame)
    const offset = this.journal(`${FRAME_PREFIX}${text}}\n`, FRAME_PREFIX.length)
    this.add(frame.id, text, offset)
    this.enforceLimit()
    this.notify()
  }

  /** Frames after local number `after`, in order, with their text. */
  pendingAfter(after: number): { n: number; id: string; text: string }[] {
    return this.entries.filter((e) => e.n > after).map((e) => ({ n: e.n, id: e.id, text: this.textOf(e) }))
  }

  /** A new connection: nothing it has sent is in flight yet (everything unconfirmed goes again). */
  startWindow(): void {
    this.inFlight.clear()
    this.inFlightBytes = 0
  }

  /**
   * The next frames after local number `after` that fit the window beside those in flight, now
   * counted in flight themselves. One frame always fits an empty window, however large.
   */
  takeSendable(after: number, window: SendWindow = SEND_WINDOW): { n: number; id: string; text: string }[] {
    const out: { n: number; id: string; text: string }[] = []
    for (const e of this.entries) {
      if (e.n <= after) continue
      const full = this.inFlight.size + 1 > window.frames || this.inFlightBytes + e.bytes > window.bytes
      if (full && this.inFlight.size > 0) break
      this.inFlight.set(e.id, e.bytes)
      this.inFlightBytes += e.bytes
      out.push({ n: e.n, id: e.id, text: this.textOf(e) })
    }
    return out
  }

  /** Frames in flight on this connection (sent, not yet answered). */
  get inFlightCount(): number {
    return this.inFlight.size
  }

  /**
   * The server answered these frames without storing them (its own failure): they leave the
   * window but stay queued, to be sent again on the next connection.
   */
  answered(ids: readonly string[]): void {
    if (this.settle(ids)) this.notify()
  }

  /** The highest output seq of a session among the frames still waiting here (-1 if none). */
  lastOutputSeq(sessionId: string): number {
    let last = -1
    for (const { text } of this.pendingAfter(Number.NEGATIVE_INFINITY)) {
      if (!text.includes(sessionId)) continue
      const frame = JSON.parse(text) as {
        type?: string
        session_id?: string
        records?: Array<{ seq: number }>
      }
      if (frame.type !== 'session.output' || frame.session_id !== sessionId) continue
      for (const r of frame.records ?? []) last = Math.max(last, r.seq)
    }
    return last
  }

  /** The server stored these frames (or refused them for good): forget them. */
  received(ids: readonly string[]): void {
    const freed = this.settle(ids)
    // A receipt may name a frame twice (it was sent on two connections).
    const gone = [...new Set(ids)].filter((id) => this.byId.has(id))
    if (gone.length === 0) {
      if (freed) this.notify()
      return
    }
    for (const id of gone) {
      const e = this.byId.get(id)!
      this.byId.delete(id)
      this.pendingBytes -= e.bytes
      if (e.text !== null) this.memoryBytes -= e.bytes
    }
    const set = new Set(gone)
    this.entries = this.entries.filter((e) => !set.has(e.id))
    this.journal(`${JSON.stringify({ r: gone })}\n`, 0)
    this.compactIfWorthIt()
    this.notify()
  }

  /** Calls `fn` whenever there may be more to send: a frame queued, or room in the window. */
  onSendable(fn: () => void): () => void {
    this.listeners.add(fn)
    return () => this.listeners.delete(fn)
  }

  private notify(): void {
    for (const fn of this.listeners) fn()
  }

  /** Takes answered frames out of the window; true when that made room. */
  private settle(ids: readonly string[]): boolean {
    let freed = false
    for (const id of ids) {
      const bytes = this.inFlight.get(id)
      if (bytes === undefined) continue
      this.inFlight.delete(id)
      this.inFlightBytes -= bytes
      freed = true
    }
    return freed
  }

  private add(id: string, text: string, offset: number): void {
    const bytes = Buffer.byteLength(text)
    const inMemory = !this.options.spoolPath || this.memoryBytes + bytes <= this.maxMemory
    const entry: OutboxEntry = { n: ++this.counter, id, bytes, text: inMemory ? text : null, offset }
    if (inMemory) this.memoryBytes += bytes
    this.pendingBytes += bytes
    this.entries.push(entry)
    this.byId.set(id, entry)
  }

  private enforceLimit(): void {
    const limit = this.options.spoolPath ? this.maxSpool : this.maxMemory
    let dropped = 0
    while (this.pendingBytes > limit && this.entries.length > 1) {
      this.received([this.entries[0]!.id])
      dropped++
    }
    if (dropped > 0) this.options.onDrop?.(dropped)
  }

  /** Appends a line to the spool; returns the byte offset of `line` + `skip`. */
  private journal(line: string, skip: number): number {
    const path = this.options.spoolPath
    if (!path) return 0
    const offset = this.spoolBytes + skip
    appendFileSync(path, line, { mode: 0o600 })
    this.spoolBytes += Buffer.byteLength(line)
    return offset
  }

  private textOf(entry: OutboxEntry): string {
    if (entry.text !== null) return entry.text
    const fd = openSync(this.options.spoolPath!, 'r')
    try {
      const buf = Buffer.alloc(entry.bytes)
      readSync(fd, buf, 0, entry.bytes, entry.offset)
      return buf.toString('utf8')
    } finally {
      closeSync(fd)
    }
  }

  private compactIfWorthIt(force = false): void {
    const path = this.options.spoolPath
    if (!path) return
    if (!force && this.entries.length > 0 && this.spoolBytes - this.pendingBytes < COMPACT_AFTER_BYTES) return
    const texts = this.entries.map((e) => this.textOf(e))
    let offset = 0
    const lines = texts.map((text, i) => {
      this.entries[i]!.offset = offset + FRAME_PREFIX.length
      const line = `${FRAME_PREFIX}${text}}\n`
      offset += Buffer.byteLength(line)
      return line
    })
    writeFileSync(path, lines.join(''), { mode: 0o600 })
    this.spoolBytes = offset
  }

  private load(path: string): void {
    const data = readFileSync(path)
    const frames: { id: string; text: string; offset: number }[] = []
    const received = new Set<string>()
    let start = 0
    while (start < data.length) {
      let end = data.indexOf(10, start)
      if (end < 0) end = data.length
      const line = data.subarray(start, end).toString('utf8')
      try {
        const parsed = JSON.parse(line) as { f?: { id?: string }; r?: string[] }
        if (parsed.f?.id) {
          frames.push({
            id: parsed.f.id,
            text: line.slice(FRAME_PREFIX.length, -1),
            offset: start + FRAME_PREFIX.length,
          })
        }
        for (const id of parsed.r ?? []) received.add(id)
      } catch {
        // A line cut short by a crash: everything before it is still good.
      }
      start = end + 1
    }
    this.spoolBytes = data.length
    for (const f of frames) if (!received.has(f.id) && !this.byId.has(f.id)) this.add(f.id, f.text, f.offset)
    // A last line cut short by a crash must not glue itself to the next append.
    this.compactIfWorthIt(data.length > 0 && data[data.length - 1] !== 10)
  }
}
