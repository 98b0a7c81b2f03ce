// The agent's terminals: one PTY shell each, its scrollback, and the flow control that keeps a
// `cat` of a huge file from filling any buffer. Output is sent only while the browser has
// acknowledged all but TERMINAL_WINDOW_BYTES of it; what it cannot take yet waits in the
// (bounded) scrollback, and a reader that fell behind the scrollback is told to redraw from
// its start. Detached shells keep running until the idle timeout ends them.
import { Value } from '@sinclair/typebox/value'
import {
  encodeTerminalMessage,
  jsonPayload,
  offsetPayload,
  readJsonPayload,
  readOffsetPayload,
  readSizePayload,
  TERMINAL_CHUNK_BYTES,
  TERMINAL_WINDOW_BYTES,
  TerminalKind,
  type TerminalMessage,
  TerminalOpen,
  type TerminalState,
} from '../../protocol/index.ts'
import type { AgentLogger } from '../log.ts'
import type { PtyHandle, SpawnPty } from './pty.ts'
import { Scrollback } from './scrollback.ts'

/** Default: a shell nobody watches is ended after 30 minutes. */
export const DEFAULT_TERMINAL_IDLE_SECONDS = 1800

/** Keystroke messages kept while a shell starts; more are dropped. */
const MAX_EARLY_INPUTS = 256

export type BinarySink = (data: Uint8Array) => void

export interface TerminalHostOptions {
  spawnPty: SpawnPty
  /** Null when this platform has no PTY. */
  unavailableReason: string | null
  log: AgentLogger
  idleMs: number
  /** The shell's argv, env and cwd inside the machine's isolation (the same as the user's sessions). */
  command(
    terminalId: string,
    open: TerminalOpen,
  ): { argv: string[]; env: Record<string, string>; cwd: string }
  /** The real working directory inside the agent's allowed roots; throws a message for the user. */
  resolveCwd(path: string): Promise<string>
  scrollbackBytes?: number
}

interface Term {
  id: string
  pty: PtyHandle
  scrollback: Scrollback
  cols: number
  rows: number
  attached: boolean
  /** Offset just past the last byte sent / acknowledged by the browser. */
  sent: number
  acked: number
  idleTimer?: ReturnType<typeof setTimeout>
  ended: boolean
}

export class TerminalHost {
  private readonly terms = new Map<string, Term>()
  /** Keystrokes that arrived while their shell was still starting (bounded). */
  private readonly starting = new Map<string, Uint8Array[]>()
  private sink: BinarySink | null = null

  constructor(private readonly opts: TerminalHostOptions) {}

  get count() {
    return this.terms.size
  }

  /** The connection to the server changed; without one, every terminal is detached. */
  setSink(sink: BinarySink | null) {
    this.sink = sink
    if (!sink) for (const term of this.terms.values()) this.detach(term)
  }

  handle(message: TerminalMessage) {
    const term = this.terms.get(message.terminalId)
    switch (message.kind) {
      case TerminalKind.OPEN:
        return void this.open(message.terminalId, readJsonPayload(message.payload))
      case TerminalKind.INPUT: {
        if (term) return term.pty.write(message.payload)
        const early = this.starting.get(message.terminalId)
        if (early && early.length < MAX_EARLY_INPUTS) early.push(message.payload.slice())
        return
      }
      case TerminalKind.RESIZE: {
        const size = readSizePayload(message.payload)
        if (!term || !size) return
        term.cols = size.cols
        term.rows = size.rows
        return term.pty.resize(size.cols, size.rows)
      }
      case TerminalKind.ACK: {
        const ack = readOffsetPayload(message.payload)
        if (!term || !ack) return
        term.acked = Math.min(Math.max(term.acked, ack.offset), term.sent)
        return this.pump(term)
      }
      case TerminalKind.DETACH:
        return term && this.detach(term)
      case TerminalKind.KILL:
        return term?.pty.kill()
      default:
        this.opts.log.warn('ignoring an unknown terminal message', { kind: message.kind })
    }
  }

  /** Ends every shell (agent shutdown). */
  async stopAll() {
    const all = [...this.terms.values()]
    for (const term of all) term.pty.kill()
    await Promise.all(all.map((t) => t.pty.exited))
  }

  private state(id: string, state: TerminalState) {
    this.sink?.(encodeTerminalMessage(TerminalKind.STATE, id, jsonPayload(state)))
  }

  private async open(id: string, raw: unknown) {
    if (!Value.Check(TerminalOpen, raw)) {
      this.opts.log.warn('ignoring a malformed terminal open', { terminal_id: id })
      return
    }
    const existing = this.terms.get(id)
    if (existing) return this.attach(existing, raw.offset, raw.cols, raw.rows)
    if (this.opts.unavailableReason)
      return this.state(id, { state: 'unavailable', reason: this.opts.unavailableReason })
    if (this.starting.has(id)) return
    this.starting.set(id, [])
    let cwd: string
    try {
      cwd = await this.opts.resolveCwd(raw.cwd)
    } catch (error) {
      this.starting.delete(id)
      return this.state(id, { state: 'exited', exit_code: null, reason: (error as Error).message })
    }
    const early = this.starting.get(id) ?? []
    this.starting.delete(id)
    const term = this.start(id, { ...raw, cwd })
    if (!term) return
    this.attach(term, 0, raw.cols, raw.rows)
    for (const keys of early) term.pty.write(keys)
  }

  private start(id: string, open: TerminalOpen): Term | null {
    let pty: PtyHandle
    const scrollback = new Scrollback(this.opts.scrollbackBytes)
    let term: Term | undefined
    try {
      const command = this.opts.command(id, open)
      pty = this.opts.spawnPty(command.argv, {
        cwd: command.cwd,
        env: command.env,
        cols: open.cols,
        rows: open.rows,
        onData: (bytes) => {
          // Bun reuses nothing here, but the copy keeps the scrollback independent of the caller.
          scrollback.append(bytes.slice())
          if (term) this.pump(term)
        },
      })
    } catch (error) {
      this.state(id, { state: 'exited', exit_code: null, reason: `Could not start a shell: ${error}` })
      return null
    }
    term = {
      id,
      pty,
      scrollback,
      cols: open.cols,
      rows: open.rows,
      attached: false,
      sent: 0,
      acked: 0,
      ended: false,
    }
    this.terms.set(id, term)
    this.opts.log.info('terminal started', { terminal_id: id, pid: pty.pid, cwd: open.cwd })
    const started = term
    void pty.exited.then((code) => {
      started.ended = true
      clearTimeout(started.idleTimer)
      this.terms.delete(id)
      this.pump(started)
      this.state(id, { state: 'exited', exit_code: code, reason: 'The shell exited' })
      this.opts.log.info('terminal ended', { terminal_id: id, exit_code: code })
    })
    return term
  }

  private attach(term: Term, offset: number, cols: number, rows: number) {
    term.attached = true
    clearTimeout(term.idleTimer)
    term.idleTimer = undefined
    if (cols !== term.cols || rows !== term.rows) {
      term.cols = cols
      term.rows = rows
      term.pty.resize(cols, rows)
    }
    const { start, end } = term.scrollback
    const resume = offset >= start && offset <= end && offset > 0 ? offset : start
    term.sent = resume
    term.acked = resume
    this.state(term.id, {
      state: 'running',
      cols,
      rows,
      ...(resume !== offset || offset === 0 ? { reset_at: resume } : {}),
    })
    this.pump(term)
  }

  private detach(term: Term) {
    if (!term.attached) return
    term.attached = false
    clearTimeout(term.idleTimer)
    term.idleTimer = setTimeout(() => {
      this.opts.log.info('terminal idle timeout', { terminal_id: term.id })
      term.pty.kill()
    }, this.opts.idleMs)
    term.idleTimer.unref?.()
  }

  private pump(term: Term) {
    const sink = this.sink
    if (!sink || !term.attached) return
    while (term.sent < term.scrollback.end && term.sent - term.acked < TERMINAL_WINDOW_BYTES) {
      const chunk = term.scrollback.read(term.sent, TERMINAL_CHUNK_BYTES)
      if (chunk.offset > term.sent) {
        // The reader fell behind what the scrollback holds: it redraws from the oldest byte kept.
        this.state(term.id, { state: 'running', cols: term.cols, rows: term.rows, reset_at: chunk.offset })
        term.acked = chunk.offset
      }
      sink(encodeTerminalMessage(TerminalKind.OUTPUT, term.id, offsetPayload(chunk.offset, chunk.bytes)))
      term.sent = chunk.offset + chunk.bytes.length
    }
  }
}
