// Compiled checkers for every frame and the two entry points both sides use on incoming text:
// parseAgentFrame (server side) and parseServerFrame (agent side). They never throw; a bad
// frame yields an error naming the frame type and the offending field.
import type { TObject } from '@sinclair/typebox'
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler'
import { AGENT_FRAME_SCHEMAS, type AgentFrame } from './agent-frames.ts'
import { MAX_FRAME_BYTES } from './common.ts'
import { type ErrorCode, SERVER_FRAME_SCHEMAS, type ServerFrame } from './server-frames.ts'

export interface FrameError {
  code: ErrorCode
  message: string
  /** The frame's `id` when it had a readable one, so the sender can match the error. */
  ref?: string
}
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: FrameError }

function compileAll<M extends Record<string, TObject>>(schemas: M): Map<string, TypeCheck<TObject>> {
  return new Map(Object.entries(schemas).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]))
}

const agentCheckers = compileAll(AGENT_FRAME_SCHEMAS)
const serverCheckers = compileAll(SERVER_FRAME_SCHEMAS)

function parseWith<T>(checkers: Map<string, TypeCheck<TObject>>, input: unknown): ParseResult<T> {
  let value = input
  if (typeof input === 'string') {
    if (input.length > MAX_FRAME_BYTES) {
      return {
        ok: false,
        error: { code: 'too_large', message: `Frame exceeds ${MAX_FRAME_BYTES} characters` },
      }
    }
    try {
      value = JSON.parse(input)
    } catch {
      return { ok: false, error: { code: 'malformed', message: 'Frame is not valid JSON' } }
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, error: { code: 'malformed', message: 'Frame must be a JSON object' } }
  }
  const record = value as Record<string, unknown>
  const ref = typeof record.id === 'string' && record.id.length <= 128 ? { ref: record.id } : {}
  const type = record.type
  if (typeof type !== 'string') {
    return { ok: false, error: { code: 'malformed', message: "Frame has no string 'type'", ...ref } }
  }
  const checker = checkers.get(type)
  if (!checker) {
    return {
      ok: false,
      error: { code: 'unknown_type', message: `Unknown frame type '${type.slice(0, 64)}'`, ...ref },
    }
  }
  if (!checker.Check(value)) {
    const first = checker.Errors(value).First()
    const where = first?.path || '/'
    return {
      ok: false,
      error: { code: 'malformed', message: `${type}: ${where} ${first?.message ?? 'is invalid'}`, ...ref },
    }
  }
  return { ok: true, value: value as T }
}

/** Server side: check one frame from an agent (JSON text or an already-parsed value). */
export function parseAgentFrame(input: unknown): ParseResult<AgentFrame> {
  return parseWith<AgentFrame>(agentCheckers, input)
}

/** Agent side: check one frame from the server (JSON text or an already-parsed value). */
export function parseServerFrame(input: unknown): ParseResult<ServerFrame> {
  return parseWith<ServerFrame>(serverCheckers, input)
}
