// What to do next about a session that failed, by its error code (the agent's and the server's
// codes: agent/failure-messages.ts, server/sessions/preflight.ts). The message says what went
// wrong; the hint says what the person can do about it.
import type { MessageKey } from '#lib/i18n/index.svelte.ts'

const HINTS: Record<string, MessageKey> = {
  bad_project_path: 'ws.hint.badPath',
  path_outside_roots: 'ws.hint.badPath',
  cli_not_installed: 'ws.hint.cliMissing',
  spawn_failed: 'ws.hint.cliMissing',
  max_sessions: 'ws.hint.full',
  machine_offline: 'ws.hint.offline',
  forbidden: 'ws.hint.forbidden',
}

export function errorHint(code: string): MessageKey | undefined {
  return HINTS[code] ?? 'ws.hint.other'
}
