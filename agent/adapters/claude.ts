// Claude Code (@anthropic-ai/claude-code, checked against 2.1.332): one long-lived `claude -p`
// process per session in stream-json mode. It calls $ANTHROPIC_BASE_URL/v1/messages?beta=true
// with the proxy token as x-api-key; permission prompts come to us over stdio because of
// --permission-prompt-tool stdio (without it they are denied silently). Result usage is per turn.
import { parseStreamJsonLine, streamJson } from './stream-json.ts'
import type { CliAdapter, OutputParser } from './types.ts'

/** Our session permission modes -> claude's --permission-mode (2.1 has no 'default' choice). */
const PERMISSION_MODES: Record<string, string> = { 'auto-edit': 'acceptEdits', yolo: 'bypassPermissions' }

export const claudeAdapter: CliAdapter = {
  name: 'claude-code',
  aliases: ['claude'],
  executable: 'claude',
  installCommand: ['npm', 'install', '-g', '@anthropic-ai/claude-code@latest'],
  mode: 'long-lived',
  env: (s) => ({
    ANTHROPIC_API_KEY: s.proxyToken,
    ANTHROPIC_BASE_URL: s.proxyBaseUrl.replace(/\/+$/, ''),
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
  }),
  args: (s) => [
    '-p',
    '--input-format',
    'stream-json',
    '--output-format',
    'stream-json',
    '--verbose',
    '--include-partial-messages',
    '--permission-prompt-tool',
    'stdio',
    ...(s.model ? ['--model', s.model] : []),
    ...(s.permissionMode && PERMISSION_MODES[s.permissionMode]
      ? ['--permission-mode', PERMISSION_MODES[s.permissionMode]!]
      : []),
    ...(s.resumeCliSessionId ? ['--resume', s.resumeCliSessionId] : []),
  ],
  startupLines: () => [streamJson.initialize()],
  userMessage: streamJson.userMessage,
  permissionAnswer: streamJson.permissionAnswer,
  interrupt: streamJson.interrupt,
  createParser(): OutputParser {
    return {
      line(text) {
        const { resultUsage, ...parsed } = parseStreamJsonLine(text)
        return resultUsage ? { ...parsed, usage: resultUsage } : parsed
      },
    }
  },
}
