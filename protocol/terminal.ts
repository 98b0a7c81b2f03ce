// The terminal wire: a PTY's bytes ride the agent's WebSocket as binary messages (JSON text
// messages stay the control channel), or the same messages as base64 in long-poll batches
// (protocol/transport.ts) when that is all the agent has, and the browser's own WebSocket. Binary so a
// keystroke is a few bytes and 10 MB of output is 10 MB, not base64; every message names its
// terminal so many terminals share one agent socket. Control payloads are TypeBox-checked JSON.
import { type Static, Type } from '@sinclair/typebox'
import { Id } from './common.ts'

/** Browser WebSocket (GET, upgrade, session cookie): one terminal's screen and keyboard. */
export const terminalSocketPath = (terminalId: string) => `/api/remote/terminals/${terminalId}/ws`

/** Bytes the agent sends beyond what the browser has acknowledged before it waits (flow control). */
export const TERMINAL_WINDOW_BYTES = 512 * 1024
/** Largest output chunk in one message. */
export const TERMINAL_CHUNK_BYTES = 64 * 1024
/** The browser acknowledges after writing this many bytes (and when its write queue empties). */
export const TERMINAL_ACK_EVERY_BYTES = 128 * 1024
/** Terminal bytes in one long-poll request or answer (the rest go in the next; under the frame limit as base64). */
export const TERMINAL_POLL_BATCH_BYTES = 1024 * 1024
/** Terminal messages in one long-poll request or answer. */
export const MAX_TERMINAL_MESSAGES_PER_POLL = 1000
export const TERMINAL_MAX_COLS = 1000
export const TERMINAL_MAX_ROWS = 500

/** Message kinds on the agent socket. Server -> agent: OPEN..KILL; agent -> server: OUTPUT, STATE. */
export const TerminalKind = {
  /** JSON TerminalOpen: attach to the terminal, starting its shell if it has none. */
  OPEN: 1,
  /** Raw keyboard bytes. */
  INPUT: 2,
  /** u16 cols, u16 rows. */
  RESIZE: 3,
  /** f64 offset: the browser has written everything before it. */
  ACK: 4,
  /** No browser watches any more (the shell keeps running until its idle timeout). */
  DETACH: 5,
  /** End the shell now. */
  KILL: 6,
  /** f64 offset of the first byte, then the bytes. */
  OUTPUT: 16,
  /** JSON TerminalState. */
  STATE: 17,
} as const
export type TerminalKind = (typeof TerminalKind)[keyof typeof TerminalKind]

const Dimension = (max: number) => Type.Integer({ minimum: 1, maximum: max })

export const TerminalOpen = Type.Object({
  cols: Dimension(TERMINAL_MAX_COLS),
  rows: Dimension(TERMINAL_MAX_ROWS),
  /** The shell's working directory (the session's project, or the agent's work dir). */
  cwd: Type.String({ minLength: 1 }),
  /** The session whose sandbox the shell shares, when it is opened beside one. */
  session_id: Type.Optional(Id),
  /** The terminal's user: the shell gets that user's sandbox home, like their sessions' CLIs. */
  user_id: Type.Integer({ minimum: 1 }),
  /** Output from this offset onwards (what the browser already shows is not sent again). */
  offset: Type.Number({ minimum: 0 }),
})
export type TerminalOpen = Static<typeof TerminalOpen>

export const TERMINAL_STATES = ['running', 'exited', 'unavailable'] as const
export const TerminalState = Type.Object({
  state: Type.Union(TERMINAL_STATES.map((s) => Type.Literal(s))),
  cols: Type.Optional(Type.Integer()),
  rows: Type.Optional(Type.Integer()),
  /** The output that follows starts at this offset and the screen must be cleared first
   * (a reattach replays the agent's scrollback, or a slow reader fell behind it). */
  reset_at: Type.Optional(Type.Number({ minimum: 0 })),
  exit_code: Type.Optional(Type.Union([Type.Integer(), Type.Null()])),
  /** Why it ended or could not start (idle timeout, spawn failure, not supported here). */
  reason: Type.Optional(Type.String({ maxLength: 500 })),
})
export type TerminalState = Static<typeof TerminalState>

/** Browser -> server JSON messages (keystrokes travel as binary messages, bytes as typed). */
export const TerminalClientMessage = Type.Union([
  Type.Object({
    type: Type.Literal('resize'),
    cols: Dimension(TERMINAL_MAX_COLS),
    rows: Dimension(TERMINAL_MAX_ROWS),
  }),
  Type.Object({ type: Type.Literal('ack'), offset: Type.Number({ minimum: 0 }) }),
  Type.Object({ type: Type.Literal('kill') }),
])
export type TerminalClientMessage = Static<typeof TerminalClientMessage>

export const TERMINAL_WAIT_CODES = ['offline', 'restarting'] as const

/** Server -> browser JSON messages; output travels as binary: f64 offset, then the bytes. */
export const TerminalServerMessage = Type.Union([
  Type.Object({ type: Type.Literal('state'), ...TerminalState.properties }),
  /** The agent's channel dropped; the shell lives on and the screen resumes when it is back. */
  Type.Object({
    type: Type.Literal('waiting'),
    reason: Type.String(),
    /** offline: no agent channel here; restarting: the server is going down. */
    code: Type.Optional(Type.Union(TERMINAL_WAIT_CODES.map((c) => Type.Literal(c)))),
  }),
  Type.Object({
    type: Type.Literal('closed'),
    reason: Type.String(),
    /** Set when access was revoked: the access.revoked reason code (the UI says it in words). */
    revoked: Type.Optional(Type.String()),
  }),
])
export type TerminalServerMessage = Static<typeof TerminalServerMessage>

/** WebSocket close code when access is revoked or the terminal ends (application range). */
export const CLOSE_TERMINAL_ENDED = 4100
export const CLOSE_TERMINAL_REVOKED = 4103

const encoder = new TextEncoder()
const decoder = new TextDecoder()

export interface TerminalMessage {
  kind: number
  terminalId: string
  payload: Uint8Array
}

/** [kind u8][id length u8][id ascii][payload] */
export function encodeTerminalMessage(kind: TerminalKind, terminalId: string, payload?: Uint8Array) {
  const id = encoder.encode(terminalId)
  const out = new Uint8Array(2 + id.length + (payload?.length ?? 0))
  out[0] = kind
  out[1] = id.length
  out.set(id, 2)
  if (payload) out.set(payload, 2 + id.length)
  return out
}

export function decodeTerminalMessage(data: Uint8Array): TerminalMessage | null {
  if (data.length < 2) return null
  const idLength = data[1] as number
  if (idLength === 0 || data.length < 2 + idLength) return null
  return {
    kind: data[0] as number,
    terminalId: decoder.decode(data.subarray(2, 2 + idLength)),
    payload: data.subarray(2 + idLength),
  }
}

export const jsonPayload = (value: unknown) => encoder.encode(JSON.stringify(value))
export function readJsonPayload(payload: Uint8Array): unknown {
  try {
    return JSON.parse(decoder.decode(payload))
  } catch {
    return undefined
  }
}

/** An f64 offset followed by bytes (OUTPUT to the server and to the browser, ACK alone). */
export function offsetPayload(offset: number, bytes?: Uint8Array) {
  const out = new Uint8Array(8 + (bytes?.length ?? 0))
  new DataView(out.buffer).setFloat64(0, offset)
  if (bytes) out.set(bytes, 8)
  return out
}
export function readOffsetPayload(payload: Uint8Array): { offset: number; bytes: Uint8Array } | null {
  if (payload.length < 8) return null
  const offset = new DataView(payload.buffer, payload.byteOffset, 8).getFloat64(0)
  if (!Number.isFinite(offset) || offset < 0) return null
  return { offset, bytes: payload.subarray(8) }
}

export function sizePayload(cols: number, rows: number) {
  const out = new Uint8Array(4)
  const view = new DataView(out.buffer)
  view.setUint16(0, cols)
  view.setUint16(2, rows)
  return out
}
export function readSizePayload(payload: Uint8Array): { cols: number; rows: number } | null {
  if (payload.length !== 4) return null
  const view = new DataView(payload.buffer, payload.byteOffset, 4)
  const cols = view.getUint16(0)
  const rows = view.getUint16(2)
  if (cols < 1 || rows < 1 || cols > TERMINAL_MAX_COLS || rows > TERMINAL_MAX_ROWS) return null
  return { cols, rows }
}
