// Gemini CLI (@google/gemini-cli, checked against 0.61.0): one `gemini -p <message> -o
// stream-json` process per message, Google wire format (streamGenerateContent?alt=sse) towards
// $GOOGLE_GEMINI_BASE_URL = our proxy, the proxy token as $GEMINI_API_KEY. With a base URL set
// and no configured auth type, 0.61 picks the 'gateway' type and refuses it in headless mode, so
// a settings file in a private GEMINI_CLI_HOME selects 'gemini-api-key' (the token is not in it).
// Later messages pass --resume <session_id>. Output lines: init {session_id}, message (assistant
// deltas), tool_use, tool_result, error, result {status, stats: this turn's usage}.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OutputEvent } from '../../protocol/index.ts'
import type { AdapterSession, CliAdapter, OutputParser, ParsedLine } from './types.ts'

const HOME_DIR = 'gemini-home'

/** Our session permission modes -> gemini's --approval-mode. */
const APPROVAL_MODES: Record<string, string> = {
  plan: 'plan',
  default: 'default',
  'auto-edit': 'auto_edit',
  yolo: 'yolo',
}

export const geminiSettings = {
  security: { auth: { selectedType: 'gemini-api-key' } },
  privacy: { usageStatisticsEnabled: false },
  telemetry: { enabled: false },
  general: { disableAutoUpdate: true, disableUpdateNag: true },
}

type Json = Record<string, unknown>
const n = (v: unknown) => (typeof v === 'number' ? v : 0)

function geminiParser(): OutputParser {
  let text = ''
  const flush = (): OutputEvent[] => {
    const events: OutputEvent[] = text ? [{ kind: 'assistant_text', text }] : []
    text = ''
    return events
  }
  return {
    line(raw): ParsedLine {
      let doc: Json
      try {
        doc = JSON.parse(raw)
      } catch {
        return { events: [] }
      }
      switch (doc.type) {
        case 'init':
          return typeof doc.session_id === 'string'
            ? { events: [], cliSessionId: doc.session_id }
            : { events: [] }
        case 'message':
          if (doc.role !== 'assistant' || typeof doc.content !== 'string') return { events: [] }
          if (doc.delta === true) {
            text += doc.content
            return { events: [] }
          }
          return { events: [...flush(), { kind: 'assistant_text', text: doc.content }] }
        case 'tool_use':
          return {
            events: [
              ...flush(),
              {
                kind: 'tool_use',
                tool_use_id: String(doc.tool_id ?? ''),
                name: String(doc.tool_name ?? ''),
                input: doc.parameters ?? {},
              },
            ],
          }
        case 'tool_result':
          return {
            events: [
              {
                kind: 'tool_result',
                tool_use_id: String(doc.tool_id ?? ''),
                output:
                  typeof doc.output === 'string' ? doc.output : JSON.stringify(doc.error ?? doc.output ?? ''),
                ...(doc.status === 'error' ? { is_error: true } : {}),
              },
            ],
          }
        case 'error':
          return {
            events: [
              ...flush(),
              { kind: 'result', is_error: true, text: String(doc.message ?? 'gemini failed') },
            ],
          }
        case 'result': {
          const stats = (doc.stats ?? {}) as Json
          const usage = {
            input_tokens: n(stats.input_tokens),
            output_tokens: n(stats.output_tokens),
            ...(typeof stats.cached === 'number' ? { cache_read_tokens: stats.cached } : {}),
          }
          const events = flush()
          const error = doc.error as Json | undefined
          events.push({
            kind: 'result',
            is_error: doc.status !== 'success',
            usage,
            ...(error?.message ? { text: String(error.message) } : {}),
          })
          return { events, usage }
        }
        default:
          return { events: [] }
      }
    },
    end: () => ({ events: flush() }),
  }
}

export const geminiAdapter: CliAdapter = {
  name: 'gemini-cli',
  aliases: ['gemini'],
  executable: 'gemini',
  installCommand: ['npm', 'install', '-g', '@google/gemini-cli@latest'],
  mode: 'per-message',
  env: (s: AdapterSession) => ({
    GEMINI_API_KEY: s.proxyToken,
    GOOGLE_GEMINI_BASE_URL: s.proxyBaseUrl.replace(/\/+$/, ''),
    GEMINI_CLI_HOME: join(s.sessionDir, HOME_DIR),
    GEMINI_CLI_TRUST_WORKSPACE: 'true',
  }),
  args: (s, message = '') => [
    ...(s.model ? ['-m', s.model] : []),
    '-o',
    'stream-json',
    ...(s.permissionMode && APPROVAL_MODES[s.permissionMode]
      ? ['--approval-mode', APPROVAL_MODES[s.permissionMode]!]
      : []),
    ...(s.resumeCliSessionId ? ['--resume', s.resumeCliSessionId] : []),
    `--prompt=${message}`,
  ],
  async prepare(s) {
    const dir = join(s.sessionDir, HOME_DIR, '.gemini')
    await mkdir(dir, { recursive: true, mode: 0o700 })
    await writeFile(join(dir, 'settings.json'), JSON.stringify(geminiSettings, null, 2), { mode: 0o600 })
  },
  createParser: geminiParser,
}
