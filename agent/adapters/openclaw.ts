// OpenClaw (`openclaw`, needs Node >= 24; run for real, openclaw 2026.9.6, by
// test/e2e/session-openclaw.test.ts): one `openclaw agent exec` process per message, pinned to a
// config file we write that defines an OpenAI-compatible provider whose baseUrl is our proxy.
// The file names the proxy token only as ${OPENACE_PROXY_TOKEN}, so the token never lands on
// disk. With --json the process prints one JSON envelope at exit: {ok, status, final,
// usage:{input,output,total}, sessionId, ...}.
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { OutputEvent } from '../../protocol/index.ts'
import type { AdapterSession, CliAdapter, OutputParser, ParsedLine } from './types.ts'

const PROVIDER_ID = 'openace'
const CONFIG_NAME = 'openclaw.json'
const TOKEN_VAR = 'OPENACE_PROXY_TOKEN'

export function openclawConfig(session: AdapterSession): unknown {
  return {
    models: {
      mode: 'merge',
      providers: {
        [PROVIDER_ID]: {
          baseUrl: `${session.proxyBaseUrl.replace(/\/+$/, '')}/v1`,
          apiKey: `\${${TOKEN_VAR}}`,
          api: 'openai-completions',
          models: [{ id: session.model, name: session.model }],
        },
      },
    },
    telemetry: { enabled: false },
    update: { checkOnStart: false },
  }
}

function envelopeEvents(text: string): ParsedLine {
  let doc: Record<string, unknown>
  try {
    doc = JSON.parse(text)
  } catch {
    return { events: [] }
  }
  const usage = doc.usage as { input?: number; output?: number } | undefined
  const final = typeof doc.final === 'string' ? doc.final : undefined
  const events: OutputEvent[] = final ? [{ kind: 'assistant_text', text: final }] : []
  events.push({ kind: 'result', is_error: doc.ok !== true, ...(final ? { text: final } : {}) })
  const parsed: ParsedLine = { events }
  if (usage) parsed.usage = { input_tokens: usage.input ?? 0, output_tokens: usage.output ?? 0 }
  if (typeof doc.sessionId === 'string') parsed.cliSessionId = doc.sessionId
  return parsed
}

export const openclawAdapter: CliAdapter = {
  name: 'openclaw',
  aliases: [],
  executable: 'openclaw',
  installCommand: ['npm', 'install', '-g', 'openclaw@latest'],
  mode: 'per-message',
  cannotResume: 'OpenClaw is started without a conversation to resume, so a new process would begin afresh',
  env: (s) => ({ [TOKEN_VAR]: s.proxyToken, OPENCLAW_NO_AUTO_UPDATE: '1' }),
  args: (s, message = '') => [
    'agent',
    'exec',
    '--config',
    join(s.sessionDir, CONFIG_NAME),
    '--model',
    `${PROVIDER_ID}/${s.model}`,
    '--cwd',
    s.projectPath,
    '--json',
    '--',
    message,
  ],
  async prepare(s) {
    await mkdir(s.sessionDir, { recursive: true, mode: 0o700 })
    await writeFile(join(s.sessionDir, CONFIG_NAME), JSON.stringify(openclawConfig(s), null, 2), {
      mode: 0o600,
    })
  },
  createParser(): OutputParser {
    const lines: string[] = []
    return {
      line(text) {
        lines.push(text)
        return { events: [] }
      },
      end: () => envelopeEvents(lines.join('\n')),
    }
  },
}
