// Session commands through the agent with fake processes: start (argv, cwd, scrubbed env),
// input, permission answers, pause/resume, abort, stop, limits and failures.
import { describe, expect, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Command, CommandOf } from '../protocol/index.ts'
import { waitUntil } from '../test/support/wait-until.ts'
import { qwenAdapter } from './adapters/qwen.ts'
import { CliSession } from './cli-session.ts'
import { createAgentLogger } from './log.ts'
import type { FrameBody } from './outbox.ts'
import { createTestAgent } from './test-support/agent-harness.ts'
import { createFakeSpawn } from './test-support/fake-spawn.ts'

let n = 0
function start(dir: string, extra: Partial<CommandOf<'session.start'>> = {}): CommandOf<'session.start'> {
  return {
    id: `c${++n}`,
    type: 'session.start',
    session_id: 'sess-1',
    cli_tool: 'qwen-code',
    model: 'qwen-max',
    project_path: dir,
    proxy_base_url: 'http://server.test/api/remote/llm-proxy',
    proxy_token: 'proxy-token-abcdef',
    ...extra,
  }
}
const cmd = (c: FrameBody<Command>) => ({ ...c, id: `c${++n}` }) as Command

async function runningAgent() {
  const t = createTestAgent()
  const done = t.run()
  await waitUntil(() => t.transport.connections.length === 1, {
    what: 't.transport.connections.length === 1',
  })
  const stop = async () => {
    t.controller.abort()
    await done
  }
  return { ...t, stop }
}

describe('executor', () => {
  test('starts the CLI in its project dir with a scrubbed env and the proxy settings', async () => {
    const t = await runningAgent()
    const project = join(t.dir, 'proj')
    mkdirSync(project)
    t.transport.command(start(project))
    await waitUntil(() => t.transport.framesOf('session.started').length === 1, {
      what: "t.transport.framesOf('session.started').length === 1",
    })
    const child = t.spawn.children[0]!
    expect(child.argv[0]).toBe('qwen')
    expect(child.argv).toContain('stream-json')
    expect(child.options.cwd).toBe(project)
    expect(child.options.env.OPENAI_API_KEY).toBe('proxy-token-abcdef')
    expect(child.options.env.OPENAI_BASE_URL).toBe('http://server.test/api/remote/llm-proxy/v1')
    expect(child.options.env.GITHUB_TOKEN).toBeUndefined()
    expect(child.options.env.QWEN_TELEMETRY_ENABLED).toBe('0')
    expect(JSON.parse(child.stdin[0]!).request.subtype).toBe('initialize')
    expect(t.transport.framesOf('session.started')[0]).toMatchObject({ session_id: 'sess-1', pid: child.pid })
    await t.stop()
  })

  test('a CLI that exits on its own comes back with the next message, resuming its conversation', async () => {
    const t = await runningAgent()
    t.transport.command(start(t.work, { session_id: 'sess-c' }))
    await waitUntil(() => t.spawn.children.length === 1, { what: 't.spawn.children.length === 1' })
    const first = t.spawn.children[0]!
    first.stdout.push('{"type":"system","subtype":"init","session_id":"cli-conv-7"}')
    await waitUntil(() => t.transport.framesOf('session.output').length >= 1, {
      what: "t.transport.framesOf('session.output').length >= 1",
    })
    first.exit(1)
    await waitUntil(
      () =>
        t.transport
          .framesOf('session.output')
          .some((f) => f.records.some((r) => r.data.includes('restarts with the next message'))),
      { what: "t.transport .framesOf('session.output') .some((f) => f.records.some..." },
    )
    expect(t.transport.framesOf('session.exited')).toEqual([])
    t.transport.command(
      cmd({ type: 'session.input', session_id: 'sess-c', message_id: 'm2', content: 'still there?' }),
    )
    await waitUntil(() => t.spawn.children.length === 2, { what: 't.spawn.children.length === 2' })
    const second = t.spawn.children[1]!
    expect(second.argv).toContain('--resume')
    expect(second.argv[second.argv.indexOf('--resume') + 1]).toBe('cli-conv-7')
    await waitUntil(() => second.stdin.length === 2, { what: 'second.stdin.length === 2' })
    expect(JSON.parse(second.stdin[0]!).request.subtype).toBe('initialize')
    expect(JSON.parse(second.stdin[1]!)).toEqual({
      type: 'user',
      message: { role: 'user', content: 'still there?' },
    })
    const seqs = t.transport.framesOf('session.output').flatMap((f) => f.records.map((r) => r.seq))
    expect(seqs).toEqual(seqs.map((_, i) => i))
    await t.stop()
  })

  test('a stopped session continued: --resume, output after the old, the conversation named on exit', async () => {
    const t = await runningAgent()
    t.transport.command(start(t.work, { session_id: 'sess-k' }))
    await waitUntil(() => t.spawn.children.length === 1, { what: 't.spawn.children.length === 1' })
    t.spawn.children[0]!.stdout.push('{"type":"system","subtype":"init","session_id":"conv-k"}')
    t.spawn.children[0]!.stdout.push('plain line')
    await waitUntil(() => t.transport.framesOf('session.output').flatMap((f) => f.records).length === 2, {
      what: "t.transport.framesOf('session.output').flatMap((f) => f.records).le...",
    })
    t.transport.command(cmd({ type: 'session.stop', session_id: 'sess-k' }))
    await waitUntil(() => t.transport.framesOf('session.exited').length === 1, {
      what: "t.transport.framesOf('session.exited').length === 1",
    })
    expect(t.transport.framesOf('session.exited')[0]).toMatchObject({ cli_session_id: 'conv-k' })
    // The server stored one record less than the agent made (one was still on its way): the
    // continued output starts after what the agent made, never on top of it.
    t.transport.command(start(t.work, { session_id: 'sess-k', resume_cli_session_id: 'conv-k', next_seq: 1 }))
    await waitUntil(() => t.spawn.children.length === 2, { what: 't.spawn.children.length === 2' })
    const second = t.spawn.children[1]!
    expect(second.argv[second.argv.indexOf('--resume') + 1]).toBe('conv-k')
    second.stdout.push('after continuing')
    await waitUntil(
      () =>
        t.transport
          .framesOf('session.output')
          .some((f) => f.records.some((r) => r.data === 'after continuing')),
      { what: "t.transport .framesOf('session.output') .some((f) => f.records.some..." },
    )
    const seqs = t.transport.framesOf('session.output').flatMap((f) => f.records.map((r) => r.seq))
    expect(seqs).toEqual([0, 1, 2])
    t.transport.command(cmd({ type: 'session.stop', session_id: 'sess-k' }))
    await waitUntil(() => t.transport.framesOf('session.exited').length === 2, {
      what: "t.transport.framesOf('session.exited').length === 2",
    })
    expect(t.transport.framesOf('session.exited')[1]).toMatchObject({ cli_session_id: 'conv-k' })
    await t.stop()
  })

  test('a command delivered twice (a redelivery after a reconnect) runs once, and in order', async () => {
    const t = await runningAgent()
    t.transport.command(start(t.work))
    await waitUntil(() => t.spawn.children.length === 1, { what: 'the CLI started' })
    const child = t.spawn.children[0]!
    const first = cmd({ type: 'session.input', session_id: 'sess-1', message_id: 'm1', content: 'one' })
    const second = cmd({ type: 'session.input', session_id: 'sess-1', message_id: 'm2', content: 'two' })
    t.transport.command(first)
    t.transport.command(first)
    t.transport.command(second)
    t.transport.command(first)
    t.transport.command(second)
    await waitUntil(() => child.stdin.length >= 3, { what: 'both messages on stdin' })
    // The one after them proves nothing more was on its way.
    const third = cmd({ type: 'session.input', session_id: 'sess-1', message_id: 'm3', content: 'three' })
    t.transport.command(third)
    await waitUntil(() => child.stdin.length >= 4, { what: 'the third message on stdin' })
    const contents = child.stdin.slice(1).map((line) => JSON.parse(line).message.content)
    expect(contents).toEqual(['one', 'two', 'three'])
    await t.stop()
  })

  test('input, permission answers, abort, pause/resume and stop reach the process', async () => {
    const t = await runningAgent()
    t.transport.command(start(t.work))
    await waitUntil(() => t.spawn.children.length === 1, { what: 't.spawn.children.length === 1' })
    const child = t.spawn.children[0]!
    t.transport.command(
      cmd({ type: 'session.input', session_id: 'sess-1', message_id: 'm1', content: 'hello' }),
    )
    await waitUntil(() => child.stdin.length === 2, { what: 'child.stdin.length === 2' })
    expect(JSON.parse(child.stdin[1]!)).toEqual({ type: 'user', message: { role: 'user', content: 'hello' } })
    child.stdout.push(
      '{"type":"control_request","request_id":"req-1","request":{"subtype":"can_use_tool","tool_name":"run_shell_command","input":{"command":"rm x"}}}',
    )
    await waitUntil(() => t.transport.framesOf('session.output').length === 1, {
      what: "t.transport.framesOf('session.output').length === 1",
    })
    t.transport.command(
      cmd({ type: 'session.permission', session_id: 'sess-1', request_id: 'req-1', allow: true }),
    )
    await waitUntil(() => child.stdin.length === 3, { what: 'child.stdin.length === 3' })
    expect(JSON.parse(child.stdin[2]!).response.response).toEqual({
      behavior: 'allow',
      updatedInput: { command: 'rm x' },
    })
    t.transport.command(cmd({ type: 'session.abort', session_id: 'sess-1' }))
    await waitUntil(() => child.stdin.length === 4, { what: 'child.stdin.length === 4' })
    expect(JSON.parse(child.stdin[3]!).request.subtype).toBe('interrupt')
    t.transport.command(cmd({ type: 'session.pause', session_id: 'sess-1' }))
    t.transport.command(cmd({ type: 'session.resume', session_id: 'sess-1' }))
    await waitUntil(() => child.signals.includes('SIGCONT'), { what: "child.signals.includes('SIGCONT')" })
    expect(child.signals).toEqual(['SIGSTOP', 'SIGCONT'])
    t.transport.command(cmd({ type: 'session.stop', session_id: 'sess-1' }))
    await waitUntil(() => t.transport.framesOf('session.exited').length === 1, {
      what: "t.transport.framesOf('session.exited').length === 1",
    })
    expect(child.stdinClosed).toBe(true)
    expect(child.signals).toContain('SIGTERM')
    expect(t.transport.framesOf('session.exited')[0]).toMatchObject({ reason: 'stopped', signal: 'SIGTERM' })
    const seqs = t.transport.framesOf('session.output').flatMap((f) => f.records.map((r) => r.seq))
    expect(seqs).toEqual(seqs.map((_, i) => i))
    await t.stop()
  })

  test('usage from a result line is reported with the model', async () => {
    const t = await runningAgent()
    t.transport.command(start(t.work))
    await waitUntil(() => t.spawn.children.length === 1, { what: 't.spawn.children.length === 1' })
    t.spawn.children[0]!.stdout.push(
      '{"type":"result","subtype":"success","is_error":false,"result":"ok","usage":{"input_tokens":22,"output_tokens":14}}',
    )
    await waitUntil(() => t.transport.framesOf('usage.report').length === 1, {
      what: "t.transport.framesOf('usage.report').length === 1",
    })
    expect(t.transport.framesOf('usage.report')[0]).toMatchObject({
      session_id: 'sess-1',
      model: 'qwen-max',
      usage: { input_tokens: 22, output_tokens: 14 },
    })
    await t.stop()
  })

  test('streamed text pieces reach the server as they come, without their raw lines, then the message', async () => {
    const t = await runningAgent()
    t.transport.command(start(t.work))
    await waitUntil(() => t.spawn.children.length === 1, { what: 't.spawn.children.length === 1' })
    const child = t.spawn.children[0]!
    const piece = (text: string) =>
      JSON.stringify({
        type: 'stream_event',
        event: { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } },
        parent_tool_use_id: null,
      })
    const records = () => t.transport.framesOf('session.output').flatMap((f) => f.records)
    child.stdout.push(piece('Hel'))
    child.stdout.push(piece('lo'))
    await waitUntil(() => records().some((r) => r.event?.kind === 'assistant_delta'), {
      what: "records().some((r) => r.event?.kind === 'assistant_delta')",
    })
    // Pieces of one flush window are one record; the raw stream_event JSON is not kept.
    expect(records().map((r) => [r.data, r.event])).toEqual([
      ['', { kind: 'assistant_delta', text: 'Hello' }],
    ])
    child.stdout.push(piece(' there'))
    await waitUntil(() => records().length === 2, { what: 'records().length === 2' })
    child.stdout.push(
      '{"type":"assistant","message":{"role":"assistant","content":[{"type":"text","text":"Hello there"}]}}',
    )
    await waitUntil(() => records().length === 3, { what: 'records().length === 3' })
    expect(records().map((r) => r.event)).toEqual([
      { kind: 'assistant_delta', text: 'Hello' },
      { kind: 'assistant_delta', text: ' there' },
      { kind: 'assistant_text', text: 'Hello there' },
    ])
    expect(records()[2]!.data).toContain('"type":"assistant"')
    expect(records().map((r) => r.seq)).toEqual([0, 1, 2])
    await t.stop()
  })

  test('refuses a project path outside the roots, and sessions beyond max_sessions', async () => {
    const t = createTestAgent({ max_sessions: 1 })
    const done = t.run()
    await waitUntil(() => t.transport.connections.length === 1, {
      what: 't.transport.connections.length === 1',
    })
    t.transport.command(start('/etc', { session_id: 'sess-out' }))
    await waitUntil(() => t.transport.framesOf('session.error').length === 1, {
      what: "t.transport.framesOf('session.error').length === 1",
    })
    t.transport.command(start(t.work, { session_id: 'sess-a' }))
    t.transport.command(start(t.work, { session_id: 'sess-b' }))
    await waitUntil(() => t.transport.framesOf('session.error').length === 2, {
      what: "t.transport.framesOf('session.error').length === 2",
    })
    const errors = t.transport.framesOf('session.error')
    expect(errors.find((e) => e.session_id === 'sess-out')).toMatchObject({ code: 'bad_project_path' })
    expect(errors.find((e) => e.session_id === 'sess-out')?.message).toContain('/etc is outside the folders')
    expect(errors.find((e) => e.session_id === 'sess-b')).toMatchObject({ code: 'max_sessions' })
    // sess-a's CLI starts after its project snapshot, which may land after sess-b's refusal.
    await waitUntil(() => t.spawn.children.length >= 1, { what: 't.spawn.children.length >= 1' })
    expect(t.spawn.children).toHaveLength(1)
    t.controller.abort()
    await done
    expect(t.spawn.children[0]!.signals).toContain('SIGTERM')
    // Stopping the agent stops its sessions first and delivers their exit before disconnecting.
    expect(t.transport.framesOf('session.exited').map((f) => f.session_id)).toEqual(['sess-a'])
    expect(t.agent.outbox.size).toBe(0)
  })

  test('a CLI that ignores SIGTERM is killed with its group after the grace time', async () => {
    const spawn = createFakeSpawn()
    const frames: unknown[] = []
    const session = new CliSession('s1', {
      spawn,
      adapter: qwenAdapter,
      setup: {
        model: 'm',
        proxyBaseUrl: 'http://x',
        proxyToken: 't',
        projectPath: '/tmp',
        sessionDir: '/tmp',
      },
      command: (argv, s) => ({ argv, env: {}, cwd: s.projectPath }),
      emit: (f) => frames.push(f),
      log: createAgentLogger({ level: 'error', stderr: () => {} }),
      onExit: () => {},
    })
    await session.start()
    spawn.children[0]!.exitOnTerm = false
    await session.stop(30)
    expect(spawn.children[0]!.signals).toEqual(['SIGCONT', 'SIGTERM', 'SIGKILL'])
    await waitUntil(() => session.state === 'exited', { what: "session.state === 'exited'" })
  })

  test('per-message CLIs (openclaw) run one process per message, in order', async () => {
    const t = await runningAgent()
    t.transport.command(start(t.work, { cli_tool: 'openclaw', model: 'gpt-4o' }))
    await waitUntil(() => t.transport.framesOf('session.started').length === 1, {
      what: "t.transport.framesOf('session.started').length === 1",
    })
    expect(t.spawn.children).toHaveLength(0)
    t.transport.command(
      cmd({ type: 'session.input', session_id: 'sess-1', message_id: 'm1', content: 'one' }),
    )
    t.transport.command(
      cmd({ type: 'session.input', session_id: 'sess-1', message_id: 'm2', content: 'two' }),
    )
    await waitUntil(() => t.spawn.children.length === 1, { what: 't.spawn.children.length === 1' })
    expect(t.spawn.children[0]!.argv.at(-1)).toBe('one')
    t.spawn.children[0]!.stdout.push('{"ok":true,"final":"done","usage":{"input":3,"output":2}}')
    t.spawn.children[0]!.exit(0)
    await waitUntil(() => t.spawn.children.length === 2, { what: 't.spawn.children.length === 2' })
    expect(t.spawn.children[1]!.argv.at(-1)).toBe('two')
    await waitUntil(() => t.transport.framesOf('usage.report').length === 1, {
      what: "t.transport.framesOf('usage.report').length === 1",
    })
    const expires_at = '2030-01-01T00:00:00.000Z'
    t.transport.command(
      cmd({ type: 'token.refresh', session_id: 'sess-1', proxy_token: 'proxy-token-next', expires_at }),
    )
    t.transport.command(
      cmd({ type: 'session.input', session_id: 'sess-1', message_id: 'm3', content: 'three' }),
    )
    t.spawn.children[1]!.exit(0)
    await waitUntil(() => t.spawn.children.length === 3, { what: 't.spawn.children.length === 3' })
    expect(t.spawn.children[2]!.options.env.OPENACE_PROXY_TOKEN).toBe('proxy-token-next')
    expect(t.spawn.children[0]!.options.env.OPENACE_PROXY_TOKEN).toBe('proxy-token-abcdef')
    await t.stop()
  })
})
