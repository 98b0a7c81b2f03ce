// Any other executable: started once per session in the project directory with OpenAI-style
// variables pointing at our proxy; user messages are written as plain text lines and its
// output is passed on as plain text (no structured events).
import type { CliAdapter } from './types.ts'

export function genericAdapter(executable: string): CliAdapter {
  return {
    name: executable,
    aliases: [],
    executable,
    installCommand: [],
    cannotResume: `${executable} is run as a plain program, with no way to take up its earlier conversation`,
    mode: 'long-lived',
    env: (s) => ({
      OPENAI_API_KEY: s.proxyToken,
      OPENAI_BASE_URL: `${s.proxyBaseUrl.replace(/\/+$/, '')}/v1`,
      OPENAI_MODEL: s.model,
    }),
    args: () => [],
    userMessage: (text) => text.replaceAll(/\r?\n/g, ' '),
    createParser: () => ({ line: () => ({ events: [] }) }),
  }
}
