// Qwen Code (@qwen-code/qwen-code, checked against 0.24.4): one long-lived process per session
// speaking stream-json over stdin/stdout, OpenAI wire format towards our proxy. Its result
// lines carry usage summed over the whole session, so the parser reports the difference.
import type { TokenUsage } from '../../protocol/index.ts'
import { parseStreamJsonLine, streamJson } from './stream-json.ts'
import type { CliAdapter, OutputParser } from './types.ts'
import { usageSince } from './usage-delta.ts'

/** qwen 0.24's --approval-mode choices. */
const APPROVAL_MODES = ['plan', 'default', 'auto-edit', 'auto', 'yolo']

export const qwenAdapter: CliAdapter = {
  name: 'qwen-code',
  aliases: ['qwen', 'qwen-code-cli'],
  executable: 'qwen',
  installCommand: ['npm', 'install', '-g', '@qwen-code/qwen-code@latest'],
  mode: 'long-lived',
  env: (s) => ({
    OPENAI_API_KEY: s.proxyToken,
    OPENAI_BASE_URL: `${s.proxyBaseUrl.replace(/\/+$/, '')}/v1`,
    OPENAI_MODEL: s.model,
    QWEN_USAGE_STATISTICS_ENABLED: '0',
    QWEN_TELEMETRY_ENABLED: '0',
  }),
  args: (s) => [
    '--auth-type',
    'openai',
    ...(s.model ? ['-m', s.model] : []),
    ...(s.permissionMode && APPROVAL_MODES.includes(s.permissionMode)
      ? ['--approval-mode', s.permissionMode]
      : []),
    ...(s.resumeCliSessionId ? ['--resume', s.resumeCliSessionId] : []),
    '--input-format',
    'stream-json',
    '--output-format',
    'stream-json',
    '--include-partial-messages',
  ],
  startupLines: () => [streamJson.initialize()],
  userMessage: streamJson.userMessage,
  permissionAnswer: streamJson.permissionAnswer,
  interrupt: streamJson.interrupt,
  createParser(): OutputParser {
    let total: TokenUsage | undefined
    return {
      line(text) {
        const { resultUsage, ...parsed } = parseStreamJsonLine(text)
        if (!resultUsage) return parsed
        const usage = usageSince(resultUsage, total)
        total = resultUsage
        return { ...parsed, usage }
      },
    }
  },
}
