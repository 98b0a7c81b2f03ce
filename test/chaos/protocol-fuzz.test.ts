// Property-based fuzzing (fast-check) of the wire contract: parseAgentFrame / parseServerFrame
// never throw and accept exactly what the TypeBox schemas accept (checked against the
// uncompiled Value.Check), and the test SSE parser gets back exactly the events that were sent,
// however the byte stream is cut and whatever line endings it uses.
import { describe, expect, test } from 'bun:test'
import type { TObject } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'
import fc from 'fast-check'
import {
  AGENT_FRAME_SCHEMAS,
  MAX_FRAME_BYTES,
  parseAgentFrame,
  parseServerFrame,
  SERVER_FRAME_SCHEMAS,
} from '../../protocol/index.ts'
import { SseParser } from '../support/sse.ts'

const RUNS = 300
const ID = 'a1b2c3d4-0000-4000-8000-000000000001'
const TS = '2026-01-02T03:04:05.678Z'

/** One valid example per frame type; mutations of these reach deep into the schemas. */
const AGENT_EXAMPLES: Record<string, unknown>[] = [
  {
    type: 'hello',
    machine_id: ID,
    agent_version: '1.0.0',
    protocol_version: 1,
    system_info: { cpu_cores: 4 },
  },
  { type: 'heartbeat', sessions: [{ session_id: ID, state: 'running', last_seq: 3 }] },
  { type: 'ack', command_ids: [ID] },
  { type: 'session.started', session_id: ID, pid: 42 },
  { type: 'session.exited', session_id: ID, exit_code: null, signal: 'SIGKILL' },
  { type: 'session.error', session_id: ID, message: 'boom' },
  {
    type: 'session.output',
    id: 'f-1',
    session_id: ID,
    records: [
      { seq: 0, stream: 'stdout', data: 'hi', ts: TS, event: { kind: 'assistant_text', text: 'hi' } },
    ],
  },
  { type: 'fs.result', request_id: ID, path: '/tmp', entries: [{ name: 'a', type: 'file', size: 1 }] },
  { type: 'usage.report', session_id: ID, usage: { input_tokens: 1, output_tokens: 2 }, ts: TS },
]
const SERVER_EXAMPLES: Record<string, unknown>[] = [
  { type: 'welcome', machine_id: ID, protocol_version: 1, heartbeat_interval_seconds: 30, server_time: TS },
  { type: 'received', ids: [ID] },
  { type: 'error', code: 'malformed', message: 'x', ref: 'f-1' },
  { type: 'goodbye', reason: 'revoked', message: 'bye' },
  { id: ID, type: 'session.input', session_id: ID, message_id: ID, content: 'hello' },
  { id: ID, type: 'fs.list', request_id: ID, path: '~' },
  { id: ID, type: 'token.refresh', session_id: ID, proxy_token: 't', expires_at: TS },
  { id: ID, type: 'agent.update', version: '2', url: 'http://x', sha256: 'a'.repeat(64) },
]

/** What the schemas say, computed independently of parse.ts (uncompiled checker). */
function schemaAccepts(schemas: Record<string, TObject>, value: unknown): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const type = (value as { type?: unknown }).type
  if (typeof type !== 'string' || !Object.hasOwn(schemas, type)) return false
  return Value.Check(schemas[type]!, value)
}

/** A valid example with one field replaced, removed or added (any JSON value, weird keys). */
function mutated(examples: Record<string, unknown>[]) {
  return fc
    .tuple(
      fc.constantFrom(...examples),
      fc.oneof(fc.constant('delete'), fc.constant('set'), fc.constant('keep')),
      fc.oneof(fc.string(), fc.constantFrom('type', 'id', 'session_id', 'records', 'seq', 'path')),
      fc.jsonValue(),
    )
    .map(([example, op, key, value]) => {
      const copy = structuredClone(example)
      const field = Object.keys(copy).includes(key) || op === 'set' ? key : Object.keys(copy)[0]!
      if (op === 'delete') delete copy[field]
      else if (op === 'set') copy[field] = value
      return copy
    })
}

const inputs = (examples: Record<string, unknown>[]) =>
  fc.oneof(fc.anything(), fc.jsonValue(), mutated(examples), fc.constantFrom(...examples))

function checkParser(
  parse: (input: unknown) => { ok: boolean },
  schemas: Record<string, TObject>,
  examples: Record<string, unknown>[],
) {
  for (const example of examples) expect(parse(example).ok).toBe(true)
  fc.assert(
    fc.property(inputs(examples), (value) => {
      const direct = parse(value)
      expect(direct.ok).toBe(schemaAccepts(schemas, value))
      let text: string | undefined
      try {
        text = JSON.stringify(value)
      } catch {
        // BigInt and cycles have no JSON text; the value path above covered them.
      }
      if (text !== undefined) expect(parse(text).ok).toBe(schemaAccepts(schemas, JSON.parse(text)))
    }),
    { numRuns: RUNS },
  )
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (text) => {
      let expected = false
      try {
        expected = text.length <= MAX_FRAME_BYTES && schemaAccepts(schemas, JSON.parse(text))
      } catch {}
      expect(parse(text).ok).toBe(expected)
    }),
    { numRuns: RUNS },
  )
  // Over the size limit: refused as too large before any JSON parsing.
  const huge = JSON.stringify({ ...examples[0], pad: 'x'.repeat(MAX_FRAME_BYTES) })
  expect(parse(huge)).toMatchObject({ ok: false, error: { code: 'too_large' } })
}

describe('protocol parsers under fuzzing', () => {
  test('parseAgentFrame never throws and accepts exactly what the agent frame schemas accept', () => {
    checkParser(parseAgentFrame, AGENT_FRAME_SCHEMAS, AGENT_EXAMPLES)
  })

  test('parseServerFrame never throws and accepts exactly what the server frame schemas accept', () => {
    checkParser(parseServerFrame, SERVER_FRAME_SCHEMAS, SERVER_EXAMPLES)
  })
})

const lineFree = (s: string) => !/[\r\n]/.test(s)
const sseEvent = fc.record({
  id: fc.option(
    fc.string().filter((s) => lineFree(s) && !s.includes('\0')),
    { nil: undefined },
  ),
  event: fc.option(
    fc.string({ minLength: 1 }).filter((s) => lineFree(s) && !s.includes(':') && s.trim() === s),
    { nil: undefined },
  ),
  data: fc.array(fc.string().filter(lineFree), { minLength: 1, maxLength: 4 }).map((l) => l.join('\n')),
})

describe('SSE parser under fuzzing', () => {
  test('any cut of the stream and any line ending yields exactly the events sent, ids included', () => {
    fc.assert(
      fc.property(
        fc.array(sseEvent, { maxLength: 8 }),
        fc.constantFrom('\n', '\r\n', '\r'),
        fc.array(fc.nat(), { maxLength: 10 }),
        (events, eol, cuts) => {
          let text = ''
          for (const e of events) {
            text += `: comment${eol}`
            if (e.id !== undefined) text += `id: ${e.id}${eol}`
            if (e.event !== undefined) text += `event: ${e.event}${eol}`
            for (const line of e.data.split('\n')) text += `data: ${line}${eol}`
            text += eol
          }
          // A final LF settles a trailing CR (which might otherwise be half of a CRLF).
          text += '\n'
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b)
          const parser = new SseParser()
          const got = []
          let from = 0
          for (const at of [...points, text.length]) {
            got.push(...parser.push(text.slice(from, at)))
            from = at
          }
          let lastId: string | undefined
          const expected = events.map((e) => {
            if (e.id !== undefined) lastId = e.id
            return { id: lastId, event: e.event ?? 'message', data: e.data }
          })
          expect(got).toEqual(expected)
        },
      ),
      { numRuns: RUNS },
    )
  })
})
