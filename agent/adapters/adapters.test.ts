// Adapters against real CLI output recorded in fixtures/ (see fixtures/README.md).
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Value } from '@sinclair/typebox/value'
import { type OutputEvent, OutputEvent as OutputEventSchema } from '../../protocol/index.ts'
import { claudeAdapter } from './claude.ts'
import { codexAdapter } from './codex.ts'
import { geminiAdapter } from './gemini.ts'
import { adapterFor } from './index.ts'
import { openclawAdapter } from './openclaw.ts'
import { qwenAdapter } from './qwen.ts'
import type { AdapterSession, CliAdapter, ParsedLine } from './types.ts'

const fixture = (name: string) => readFileSync(join(import.meta.dir, 'fixtures', name), 'utf8')
const lines = (name: string) => fixture(name).split('\n').filter(Boolean)

function parseAll(adapter: CliAdapter, name: string): ParsedLine[] {
  const parser = adapter.createParser()
  return lines(name).map((l) => parser.line(l))
}
const events = (parsed: ParsedLine[]): OutputEvent[] => parsed.flatMap((p) => p.events)

const session: AdapterSession = {
  model: 'qwen-max',
  proxyBaseUrl: 'http://server:5000/api/remote/llm-proxy/',
  proxyToken: 'proxy-token-1',
  projectPath: '/work/p',
  sessionDir: mkdtempSync(join(tmpdir(), 'oa-adapter-')),
}

describe('qwen adapter', () => {
  test('two turns: text, results, and usage per turn although qwen reports it cumulatively', () => {
    const parsed = parseAll(qwenAdapter, 'qwen-two-turns.jsonl')
    const all = events(parsed)
    expect(all.filter((e) => e.kind === 'assistant_text').map((e) => (e as { text: string }).text)).toEqual([
      'Hello from fake',
      'Hello from fake',
    ])
    expect(all.filter((e) => e.kind === 'result')).toHaveLength(2)
    // Recorded result lines say 22/14 then 44/28 (running totals).
    expect(parsed.flatMap((p) => (p.usage ? [p.usage] : []))).toEqual([
      { input_tokens: 22, output_tokens: 14, cache_read_tokens: 0 },
      { input_tokens: 22, output_tokens: 14, cache_read_tokens: 0 },
    ])
    expect(parsed.find((p) => p.cliSessionId)?.cliSessionId).toBe('1c1a4418-613d-4f9b-9dc1-d1ce6892b95c')
    for (const e of all) expect(Value.Check(OutputEventSchema, e)).toBe(true)
  })

  test('tool use, tool result and a can_use_tool permission request', () => {
    const all = events(parseAll(qwenAdapter, 'qwen-can-use-tool.jsonl'))
    expect(all.map((e) => e.kind)).toEqual([
      'tool_use',
      'permission_request',
      'tool_result',
      'assistant_text',
      'result',
    ])
    expect(all[1]).toEqual({
      kind: 'permission_request',
      request_id: '9ee7caa6-9cf4-4dec-ac7d-99dae3832004',
      tool_name: 'run_shell_command',
      input: { command: 'rm -f zzz_file', description: 'remove file' },
    })
    for (const e of all) expect(Value.Check(OutputEventSchema, e)).toBe(true)
  })

  test('start command, environment and stdin lines match what qwen 0.24 accepted', () => {
    expect(qwenAdapter.args(session)).toEqual([
      '--auth-type',
      'openai',
      '-m',
      'qwen-max',
      '--input-format',
      'stream-json',
      '--output-format',
      'stream-json',
      '--include-partial-messages',
    ])
    expect(qwenAdapter.env(session)).toEqual({
      OPENAI_API_KEY: 'proxy-token-1',
      OPENAI_BASE_URL: 'http://server:5000/api/remote/llm-proxy/v1',
      OPENAI_MODEL: 'qwen-max',
      QWEN_USAGE_STATISTICS_ENABLED: '0',
      QWEN_TELEMETRY_ENABLED: '0',
    })
    expect(JSON.parse(qwenAdapter.userMessage!('hi'))).toEqual({
      type: 'user',
      message: { role: 'user', content: 'hi' },
    })
    expect(JSON.parse(qwenAdapter.permissionAnswer!('r1', true, { command: 'ls' }))).toEqual({
      type: 'control_response',
      response: {
        subtype: 'success',
        request_id: 'r1',
        response: { behavior: 'allow', updatedInput: { command: 'ls' } },
      },
    })
  })
})

describe('partial messages (stream_event lines, recorded)', () => {
  test('both CLIs: the text arrives in pieces as transient lines, then the complete message', () => {
    for (const [adapter, file] of [
      [qwenAdapter, 'qwen-partial-messages.jsonl'],
      [claudeAdapter, 'claude-partial-messages.jsonl'],
    ] as const) {
      const parsed = parseAll(adapter, file)
      const all = events(parsed)
      expect(all.map((e) => e.kind)).toEqual([
        ...Array(5).fill('assistant_delta'),
        'assistant_text',
        'result',
      ])
      const pieces = all.filter((e) => e.kind === 'assistant_delta').map((e) => e.text)
      expect(pieces.join('')).toBe('Hello there, this is a slowly streamed answer.')
      expect(all[5]).toEqual({ kind: 'assistant_text', text: pieces.join('') })
      // Every stream_event line is progress only; the others keep their raw text.
      lines(file).forEach((line, i) => {
        expect(parsed[i]!.transient === true).toBe(JSON.parse(line).type === 'stream_event')
      })
      for (const e of all) expect(Value.Check(OutputEventSchema, e)).toBe(true)
    }
  })

  test("a sub-agent's pieces and non-text deltas are not the session's answer", () => {
    const line = (event: unknown, parent: string | null = null) =>
      JSON.stringify({ type: 'stream_event', event, parent_tool_use_id: parent, session_id: 's' })
    const parser = qwenAdapter.createParser()
    const delta = { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'x' } }
    expect(parser.line(line(delta, 'toolu_1')).events).toEqual([])
    expect(
      parser.line(
        line({ type: 'content_block_delta', delta: { type: 'input_json_delta', partial_json: '{' } }),
      ).events,
    ).toEqual([])
    expect(parser.line(line(delta)).events).toEqual([{ kind: 'assistant_delta', text: 'x' }])
  })
})

describe('interrupting a turn (stream-json control request, recorded)', () => {
  test('both CLIs confirm the interrupt and end the turn with an error result', () => {
    for (const [adapter, file] of [
      [qwenAdapter, 'qwen-interrupt.jsonl'],
      [claudeAdapter, 'claude-interrupt.jsonl'],
    ] as const) {
      const all = events(parseAll(adapter, file))
      expect(all.map((e) => e.kind)).toEqual(['result'])
      expect(all[0]).toMatchObject({ kind: 'result', is_error: true })
      const sent = JSON.parse(adapter.interrupt!())
      expect(sent).toMatchObject({ type: 'control_request', request: { subtype: 'interrupt' } })
      expect(lines(file).some((l) => l.includes('"request_id":"openace-interrupt-1"'))).toBe(true)
    }
  })
})

describe('permission modes', () => {
  test('map to flags each CLI accepts', () => {
    expect(qwenAdapter.args({ ...session, permissionMode: 'default' })).toContain('--approval-mode')
    expect(qwenAdapter.args({ ...session, permissionMode: 'bogus' })).not.toContain('--approval-mode')
    expect(claudeAdapter.args({ ...session, permissionMode: 'default' })).not.toContain('--permission-mode')
    const autoEdit = claudeAdapter.args({ ...session, permissionMode: 'auto-edit' })
    expect(autoEdit.slice(autoEdit.indexOf('--permission-mode'))).toEqual([
      '--permission-mode',
      'acceptEdits',
    ])
  })
})

describe('claude adapter', () => {
  test('two turns: text, results with per-turn usage, the CLI session id', () => {
    const parsed = parseAll(claudeAdapter, 'claude-two-turns.jsonl')
    const all = events(parsed)
    expect(all.map((e) => e.kind)).toEqual(['assistant_text', 'result', 'assistant_text', 'result'])
    expect(parsed.flatMap((p) => (p.usage ? [p.usage] : []))).toEqual([
      { input_tokens: 12, output_tokens: 5, cache_read_tokens: 0, cache_write_tokens: 0 },
      { input_tokens: 12, output_tokens: 5, cache_read_tokens: 0, cache_write_tokens: 0 },
    ])
    expect(all[1]).toMatchObject({ kind: 'result', is_error: false, text: 'Hello from fake' })
    for (const e of all) expect(Value.Check(OutputEventSchema, e)).toBe(true)
  })

  test('a Bash tool call asks permission over stdio', () => {
    const all = events(parseAll(claudeAdapter, 'claude-can-use-tool.jsonl'))
    expect(all.map((e) => e.kind)).toEqual([
      'tool_use',
      'permission_request',
      'tool_result',
      'assistant_text',
      'result',
    ])
    expect(all[1]).toMatchObject({
      kind: 'permission_request',
      tool_name: 'Bash',
      input: { command: 'rm -f zzz_file' },
    })
    expect(all[2]).toMatchObject({ kind: 'tool_result', tool_use_id: 'toolu_1', is_error: false })
  })

  test('start command and environment, telemetry off', () => {
    const args = claudeAdapter.args({ ...session, model: 'claude-sonnet-4-5' })
    expect(args).toEqual([
      '-p',
      '--input-format',
      'stream-json',
      '--output-format',
      'stream-json',
      '--verbose',
      '--include-partial-messages',
      '--permission-prompt-tool',
      'stdio',
      '--model',
      'claude-sonnet-4-5',
    ])
    expect(claudeAdapter.env(session)).toMatchObject({
      ANTHROPIC_API_KEY: 'proxy-token-1',
      ANTHROPIC_BASE_URL: 'http://server:5000/api/remote/llm-proxy',
      DISABLE_TELEMETRY: '1',
      DISABLE_ERROR_REPORTING: '1',
      DISABLE_AUTOUPDATER: '1',
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    })
  })
})

describe('openclaw adapter', () => {
  test('one process per message with a config naming the proxy, token only by reference', async () => {
    const s = { ...session, model: 'gpt-4o' }
    await openclawAdapter.prepare!(s)
    const configText = readFileSync(join(s.sessionDir, 'openclaw.json'), 'utf8')
    expect(configText).not.toContain('proxy-token-1')
    expect(JSON.parse(configText).models.providers.openace).toMatchObject({
      baseUrl: 'http://server:5000/api/remote/llm-proxy/v1',
      apiKey: `\${OPENACE_PROXY_TOKEN}`,
      api: 'openai-completions',
    })
    expect(openclawAdapter.env(s).OPENACE_PROXY_TOKEN).toBe('proxy-token-1')
    expect(openclawAdapter.args(s, '--do this')).toEqual([
      'agent',
      'exec',
      '--config',
      join(s.sessionDir, 'openclaw.json'),
      '--model',
      'openace/gpt-4o',
      '--cwd',
      '/work/p',
      '--json',
      '--',
      '--do this',
    ])
  })

  test('the --json envelope becomes text, a result and usage', () => {
    const parser = openclawAdapter.createParser()
    for (const l of fixture('openclaw-exec-envelope.json').split('\n'))
      expect(parser.line(l).events).toEqual([])
    const end = parser.end!()
    expect(end.events).toEqual([
      { kind: 'assistant_text', text: 'The focused tests pass.' },
      { kind: 'result', is_error: false, text: 'The focused tests pass.' },
    ])
    expect(end.usage).toEqual({ input_tokens: 120, output_tokens: 8 })
  })
})

describe('codex adapter', () => {
  test('exec --json with the proxy as a Responses API provider; the token only in the environment', () => {
    const s = { ...session, model: 'gpt-5-codex', sessionDir: mkdtempSync(join(tmpdir(), 'oa-codex-')) }
    expect(codexAdapter.env(s)).toEqual({ OPENACE_PROXY_TOKEN: 'proxy-token-1' })
    const args = codexAdapter.args(s, '--do this')
    expect(args.join(' ')).not.toContain('proxy-token-1')
    expect(args.slice(0, 5)).toEqual(['exec', '--json', '--skip-git-repo-check', '-m', 'gpt-5-codex'])
    expect(args).toContain('model_providers.openace.base_url="http://server:5000/api/remote/llm-proxy/v1"')
    expect(args).toContain('model_providers.openace.wire_api="responses"')
    expect(args).toContain('model_providers.openace.env_key="OPENACE_PROXY_TOKEN"')
    expect(args.slice(-2)).toEqual(['--', '--do this'])
    const resumed = codexAdapter.args({ ...s, resumeCliSessionId: 'thread-1' }, 'next')
    expect(resumed.slice(0, 2)).toEqual(['exec', 'resume'])
    expect(resumed.slice(-3)).toEqual(['thread-1', '--', 'next'])
  })

  test('two processes on one thread: text, the thread id, usage per turn although resume reports totals', () => {
    const s = { ...session, sessionDir: mkdtempSync(join(tmpdir(), 'oa-codex-')) }
    const recorded = lines('codex-exec-resume.jsonl')
    const cut = recorded.findIndex((l, i) => i > 0 && l.includes('thread.started'))
    const first = codexAdapter.createParser(s)
    const one = recorded.slice(0, cut).map((l) => first.line(l))
    const thread = one.find((p) => p.cliSessionId)?.cliSessionId
    expect(thread).toBe('01a233e3-be4a-7162-81e4-01cc3a181207')
    const second = codexAdapter.createParser({ ...s, resumeCliSessionId: thread })
    const two = recorded.slice(cut).map((l) => second.line(l))
    for (const parsed of [one, two]) {
      for (const e of events(parsed)) expect(Value.Check(OutputEventSchema, e)).toBe(true)
      expect(events(parsed).filter((e) => e.kind === 'assistant_text')).toEqual([
        { kind: 'assistant_text', text: 'Hello from fake Codex.' },
      ])
      // Recorded: 21/5, then the resumed thread's total 42/10.
      expect(parsed.flatMap((p) => (p.usage ? [p.usage] : []))).toEqual([
        { input_tokens: 21, output_tokens: 5, cache_read_tokens: 0 },
      ])
    }
  })

  test('a failed turn is an error result', () => {
    const parser = codexAdapter.createParser()
    const line = '{"type":"turn.failed","error":{"message":"unexpected status 401 Unauthorized"}}'
    expect(parser.line(line).events).toEqual([
      { kind: 'result', is_error: true, text: 'unexpected status 401 Unauthorized' },
    ])
  })
})

describe('gemini adapter', () => {
  test('the proxy as the Gemini base URL, the token only in the environment, a private settings home', async () => {
    const s = { ...session, model: 'gemini-2.5-flash', sessionDir: mkdtempSync(join(tmpdir(), 'oa-gemini-')) }
    await geminiAdapter.prepare!(s)
    const env = geminiAdapter.env(s)
    expect(env).toMatchObject({
      GEMINI_API_KEY: 'proxy-token-1',
      GOOGLE_GEMINI_BASE_URL: 'http://server:5000/api/remote/llm-proxy',
    })
    const settings = readFileSync(join(env.GEMINI_CLI_HOME!, '.gemini', 'settings.json'), 'utf8')
    expect(settings).not.toContain('proxy-token-1')
    expect(JSON.parse(settings).security.auth.selectedType).toBe('gemini-api-key')
    expect(geminiAdapter.args({ ...s, resumeCliSessionId: 'sid-1' }, '--do this')).toEqual([
      '-m',
      'gemini-2.5-flash',
      '-o',
      'stream-json',
      '--resume',
      'sid-1',
      '--prompt=--do this',
    ])
  })

  test('two recorded turns: deltas joined into one text, the session id, usage per turn', () => {
    const recorded = lines('gemini-two-turns.jsonl')
    const cut = recorded.findIndex((l, i) => i > 0 && l.includes('"type":"init"'))
    for (const part of [recorded.slice(0, cut), recorded.slice(cut)]) {
      const parser = geminiAdapter.createParser()
      const parsed = part.map((l) => parser.line(l))
      for (const e of events(parsed)) expect(Value.Check(OutputEventSchema, e)).toBe(true)
      expect(parsed.find((p) => p.cliSessionId)?.cliSessionId).toBe('8041ff9e-f1fa-478d-a979-b5bab11f0df8')
      expect(events(parsed).filter((e) => e.kind === 'assistant_text')).toEqual([
        { kind: 'assistant_text', text: 'Hello from fake Codex.' },
      ])
      expect(parsed.flatMap((p) => (p.usage ? [p.usage] : []))).toEqual([
        { input_tokens: 21, output_tokens: 5, cache_read_tokens: 0 },
      ])
    }
  })
})

describe('adapter registry', () => {
  test('names and aliases pick the adapter; anything else runs generic with OpenAI variables', () => {
    expect(adapterFor('qwen-code-cli')).toBe(qwenAdapter)
    expect(adapterFor('claude')).toBe(claudeAdapter)
    expect(adapterFor('codex')).toBe(codexAdapter)
    expect(adapterFor('gemini')).toBe(geminiAdapter)
    expect(adapterFor('')).toBe(qwenAdapter)
    const generic = adapterFor('aider')
    expect(generic.executable).toBe('aider')
    expect(generic.env(session)).toEqual({
      OPENAI_API_KEY: 'proxy-token-1',
      OPENAI_BASE_URL: 'http://server:5000/api/remote/llm-proxy/v1',
      OPENAI_MODEL: 'qwen-max',
    })
    expect(generic.createParser().line('plain text').events).toEqual([])
  })
})
