// Codex CLI (@openai/codex, checked against 0.171.0): one `codex exec --json` process per
// message, speaking the OpenAI Responses API to our proxy through a provider defined with -c
// overrides (base_url = proxy /v1, wire_api = responses, the key read from $OPENACE_PROXY_TOKEN,
// so the token is never on the command line or on disk). Later messages resume the thread with
// `codex exec resume <id>`. It prints JSONL: thread.started {thread_id}, item.completed
// {item: agent_message | error | ...}, turn.completed {usage}, turn.failed, error. The usage of a
// resumed thread is the thread's running total, so the parser reports the difference from the
// total the previous process saw (kept in the session's own directory, surviving agent restarts).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { OutputEvent, TokenUsage } from '../../protocol/index.ts'
import type { AdapterSession, CliAdapter, OutputParser, ParsedLine } from './types.ts'
import { usageSince } from './usage-delta.ts'

const PROVIDER_ID = 'openace'
const TOKEN_VAR = 'OPENACE_PROXY_TOKEN'

/** Our session permission modes -> codex's sandbox_mode (exec never asks; yolo bypasses it). */
const SANDBOX_MODES: Record<string, string> = {
  plan: 'read-only',
  default: 'workspace-write',
  'auto-edit': 'workspace-write',
  auto: 'workspace-write',
}

export function codexConfig(s: AdapterSession): string[] {
  const provider = `model_providers.${PROVIDER_ID}`
  return [
    `model_provider="${PROVIDER_ID}"`,
    `${provider}.name="Open ACE proxy"`,
    `${provider}.base_url=${JSON.stringify(`${s.proxyBaseUrl.replace(/\/+$/, '')}/v1`)}`,
    `${provider}.env_key="${TOKEN_VAR}"`,
    `${provider}.wire_api="responses"`,
    ...(s.permissionMode && SANDBOX_MODES[s.permissionMode]
      ? [`sandbox_mode="${SANDBOX_MODES[s.permissionMode]}"`]
      : []),
  ].flatMap((c) => ['-c', c])
}

type Json = Record<string, unknown>
const TOTALS_FILE = 'codex-usage.json'

/** The thread's usage total as of the last turn, stored per session (none yet: zeros). */
function threadTotals(sessionDir: string | undefined) {
  const file = sessionDir && join(sessionDir, TOTALS_FILE)
  let totals: Record<string, TokenUsage> = {}
  try {
    if (file) totals = JSON.parse(readFileSync(file, 'utf8'))
  } catch {}
  return {
    get: (thread: string | undefined) => (thread ? totals[thread] : undefined),
    set(thread: string | undefined, usage: TokenUsage) {
      if (!thread || !file || !sessionDir) return
      totals = { ...totals, [thread]: usage }
      mkdirSync(sessionDir, { recursive: true, mode: 0o700 })
      writeFileSync(file, JSON.stringify(totals), { mode: 0o600 })
    },
  }
}

function codexLine(text: string): ParsedLine {
  let doc: Json
  try {
    doc = JSON.parse(text)
  } catch {
    return { events: [] }
  }
  const item = doc.item as Json | undefined
  switch (doc.type) {
    case 'thread.started':
      return typeof doc.thread_id === 'string' ? { events: [], cliSessionId: doc.thread_id } : { events: [] }
    case 'item.completed':
      if (item?.type === 'agent_message' && typeof item.text === 'string')
        return { events: [{ kind: 'assistant_text', text: item.text }] }
      return { events: [] }
    case 'turn.completed': {
      const u = (doc.usage ?? {}) as Json
      const n = (v: unknown) => (typeof v === 'number' ? v : 0)
      const usage = {
        input_tokens: n(u.input_tokens),
        output_tokens: n(u.output_tokens),
        ...(typeof u.cached_input_tokens === 'number' ? { cache_read_tokens: u.cached_input_tokens } : {}),
      }
      return { events: [{ kind: 'result', is_error: false, usage }], usage }
    }
    case 'turn.failed':
    case 'error': {
      const error = doc.error as Json | undefined
      const message = String(error?.message ?? doc.message ?? 'codex failed')
      const events: OutputEvent[] = [{ kind: 'result', is_error: true, text: message }]
      return { events }
    }
    default:
      return { events: [] }
  }
}

export const codexAdapter: CliAdapter = {
  name: 'codex',
  aliases: ['codex-cli', 'openai-codex'],
  executable: 'codex',
  installCommand: ['npm', 'install', '-g', '@openai/codex@latest'],
  mode: 'per-message',
  env: (s) => ({ [TOKEN_VAR]: s.proxyToken }),
  args: (s, message = '') => [
    'exec',
    ...(s.resumeCliSessionId ? ['resume'] : []),
    '--json',
    '--skip-git-repo-check',
    ...(s.permissionMode === 'yolo' ? ['--dangerously-bypass-approvals-and-sandbox'] : []),
    ...(s.model ? ['-m', s.model] : []),
    ...codexConfig(s),
    ...(s.resumeCliSessionId ? [s.resumeCliSessionId] : []),
    '--',
    message,
  ],
  createParser(session): OutputParser {
    const totals = threadTotals(session?.sessionDir)
    let thread = session?.resumeCliSessionId
    return {
      line(text) {
        const parsed = codexLine(text)
        if (parsed.cliSessionId) thread = parsed.cliSessionId
        if (!parsed.usage) return parsed
        const usage = usageSince(parsed.usage, totals.get(thread))
        totals.set(thread, parsed.usage)
        const events = parsed.events.map((e) => (e.kind === 'result' ? { ...e, usage } : e))
        return { ...parsed, events, usage }
      },
    }
  },
}
