// The wire contract's parsers: every frame type round-trips, bad input yields a clear error
// naming the frame and field, and nothing ever throws.
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import {
  AGENT_FRAME_TYPES,
  COMMAND_TYPES,
  type Command,
  MAX_FRAME_BYTES,
  PROTOCOL_VERSION,
  parseAgentFrame,
  parseServerFrame,
} from './index.ts'

const ts = '2026-05-01T10:00:00.123Z'
const sid = '5b0c8a57-9d0e-4f7e-9a55-2f7f4b3c1d20'

const commands: Command[] = [
  {
    id: 'c1',
    type: 'session.start',
    session_id: sid,
    cli_tool: 'claude-code',
    model: 'claude-sonnet',
    project_path: '/srv/app',
    proxy_base_url: 'http://h:5000/api/remote/llm-proxy',
    proxy_token: 'oa-pt.x.y',
    env: { A: 'b' },
    permission_mode: 'default',
    resume_cli_session_id: 'abc',
  },
  { id: 'c2', type: 'session.input', session_id: sid, message_id: 'm1', content: 'hi' },
  { id: 'c3', type: 'session.stop', session_id: sid },
  { id: 'c4', type: 'session.pause', session_id: sid },
  { id: 'c5', type: 'session.resume', session_id: sid },
  { id: 'c6', type: 'session.abort', session_id: sid },
  { id: 'c7', type: 'session.permission', session_id: sid, request_id: 'p1', allow: true, always: false },
  { id: 'c8', type: 'fs.list', request_id: 'r1', path: '/' },
  { id: 'c8l', type: 'log.tail', request_id: 'r9', lines: 50 },
  {
    id: 'c8b',
    type: 'changes.request',
    request_id: 'r2',
    session_id: sid,
    project_path: '/p',
    op: 'revert_hunk',
    path: 'a.txt',
    hunk_id: 'h1',
  },
  { id: 'c9', type: 'token.refresh', session_id: sid, proxy_token: 't', expires_at: ts },
  { id: 'c10', type: 'agent.update', version: '1.2.0', url: 'http://h/agent', sha256: 'a'.repeat(64) },
  {
    id: 'c10f',
    type: 'agent.update',
    version: '1.2.0',
    url: '/api/remote/agent/files/open-ace-agent-linux-x64',
    sha256: 'a'.repeat(64),
    force: true,
  },
  { id: 'c11', type: 'agent.token', agent_token: 'a'.repeat(64), version: 2 },
]

const agentFrames = [
  {
    type: 'hello',
    machine_id: 'm-1',
    agent_version: '1.0.0',
    protocol_version: PROTOCOL_VERSION,
    system_info: {},
  },
  { type: 'heartbeat', sessions: [{ session_id: sid, state: 'running', last_seq: 4 }] },
  { type: 'ack', command_ids: ['c1'] },
  { type: 'session.started', session_id: sid, pid: 42, cli_session_id: 'x' },
  { type: 'session.exited', session_id: sid, exit_code: null, signal: 'SIGTERM' },
  { type: 'session.error', session_id: sid, message: 'boom' },
  {
    type: 'session.output',
    id: 'b1',
    session_id: sid,
    records: [
      { seq: 0, stream: 'stdout', data: 'x', ts },
      {
        seq: 1,
        stream: 'stdout',
        data: '',
        ts,
        event: { kind: 'tool_use', tool_use_id: 't', name: 'Bash', input: { cmd: 'ls' } },
      },
      {
        seq: 2,
        stream: 'system',
        data: '',
        ts,
        event: { kind: 'result', usage: { input_tokens: 3, output_tokens: 4 } },
      },
      {
        seq: 3,
        stream: 'stdout',
        data: '',
        ts,
        event: { kind: 'permission_request', request_id: 'p1', tool_name: 'Bash', input: {} },
      },
    ],
  },
  { type: 'fs.result', request_id: 'r1', path: '/', entries: [{ name: 'etc', type: 'dir' }] },
  { type: 'log.result', request_id: 'r9', lines: ['2026-01-01T00:00:00.000Z INFO connected'] },
  { type: 'changes.result', request_id: 'r2', session_id: sid, result: { files: [] } },
  { type: 'changes.updated', session_id: sid },
  { type: 'usage.report', session_id: sid, usage: { input_tokens: 1, output_tokens: 2 }, ts },
  { type: 'agent.update_status', version: '1.2.0', state: 'rolled_back', reason: 'exited with code 3' },
]

describe('protocol parsers', () => {
  test('every command and agent frame type has a valid example that round-trips through JSON', () => {
    expect(new Set(commands.map((c) => c.type))).toEqual(new Set(COMMAND_TYPES))
    expect(new Set(agentFrames.map((f) => f.type))).toEqual(new Set(AGENT_FRAME_TYPES))
    for (const c of commands) expect(parseServerFrame(JSON.stringify(c))).toEqual({ ok: true, value: c })
    for (const f of agentFrames)
      expect(parseAgentFrame(JSON.stringify(f))).toEqual({ ok: true, value: f } as never)
  })

  test('server control frames parse on the agent side', () => {
    for (const f of [
      {
        type: 'welcome',
        machine_id: 'm',
        protocol_version: 1,
        heartbeat_interval_seconds: 30,
        server_time: ts,
      },
      { type: 'received', ids: ['b1'] },
      { type: 'error', code: 'forbidden', message: 'no', ref: 'b1' },
      { type: 'goodbye', reason: 'revoked', message: 'stop' },
    ]) {
      expect(parseServerFrame(f).ok).toBe(true)
    }
  })

  test('errors name the frame type and field, and carry the frame id', () => {
    const bad = parseAgentFrame({
      type: 'session.output',
      id: 'z9',
      session_id: sid,
      records: [{ seq: -1, stream: 'stdout', data: '', ts }],
    })
    expect(bad).toEqual({
      ok: false,
      error: {
        code: 'malformed',
        message: expect.stringContaining('session.output: /records/0/seq'),
        ref: 'z9',
      },
    })
    expect(parseAgentFrame('{"type":"ack","command_ids":[]}')).toMatchObject({
      ok: false,
      error: { code: 'malformed' },
    })
    expect(parseAgentFrame({ type: 'heartbeat', sessions: [], ts: 'yesterday' }).ok).toBe(true)
    expect(
      parseAgentFrame({
        type: 'usage.report',
        session_id: sid,
        usage: { input_tokens: 1, output_tokens: 1 },
        ts: '2026-05-01 10:00',
      }),
    ).toMatchObject({
      ok: false,
      error: { message: expect.stringContaining('/ts') },
    })
    expect(parseAgentFrame({ type: 'session.start' })).toMatchObject({
      ok: false,
      error: { code: 'unknown_type' },
    })
    expect(parseServerFrame({ type: 'hello' })).toMatchObject({ ok: false, error: { code: 'unknown_type' } })
    expect(parseAgentFrame('[1,2]')).toMatchObject({
      ok: false,
      error: { message: 'Frame must be a JSON object' },
    })
    expect(parseAgentFrame('x'.repeat(MAX_FRAME_BYTES + 1))).toMatchObject({
      ok: false,
      error: { code: 'too_large' },
    })
  })

  test('never throws, whatever arrives', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.jsonValue(), fc.anything()), (input) => {
        const a = parseAgentFrame(input)
        const s = parseServerFrame(typeof input === 'string' ? input : input)
        return typeof a.ok === 'boolean' && typeof s.ok === 'boolean'
      }),
      { numRuns: 500 },
    )
  })
})
