// Picks the adapter for a session's cli_tool; an unknown tool runs under the generic adapter.
import { claudeAdapter } from './claude.ts'
import { codexAdapter } from './codex.ts'
import { geminiAdapter } from './gemini.ts'
import { genericAdapter } from './generic.ts'
import { openclawAdapter } from './openclaw.ts'
import { qwenAdapter } from './qwen.ts'
import type { CliAdapter } from './types.ts'

export const KNOWN_ADAPTERS: readonly CliAdapter[] = [
  qwenAdapter,
  claudeAdapter,
  codexAdapter,
  geminiAdapter,
  openclawAdapter,
]
/** The tool used when a session does not name one (the seed's default). */
export const DEFAULT_CLI_TOOL = qwenAdapter.name

export function adapterFor(cliTool: string): CliAdapter {
  const wanted = (cliTool || DEFAULT_CLI_TOOL).toLowerCase()
  const known = KNOWN_ADAPTERS.find((a) => a.name === wanted || a.aliases.includes(wanted))
  return known ?? genericAdapter(cliTool)
}
