// Whether a session is working, and on what: a turn starts when a message is sent and ends with
// the CLI's result event; tool_use/tool_result events in between say which tool runs now. Kept
// on the session row so the session list shows it without reading output.
import type { StoredOutputEvent } from '../../protocol/index.ts'

export interface TurnFields {
  turnStartedAt?: Date | null
  currentTool?: string | null
  /** The conversation id the CLI's result named (stream-json CLIs), for continuing the session. */
  cliSessionId?: string
}

/** The session columns to update for freshly stored events, in order (empty when none matter). */
export function turnProgress(events: Array<StoredOutputEvent | null | undefined>): TurnFields {
  const fields: TurnFields = {}
  for (const event of events) {
    if (event?.kind === 'tool_use') fields.currentTool = event.name
    else if (event?.kind === 'tool_result') fields.currentTool = null
    else if (event?.kind === 'result') {
      fields.turnStartedAt = null
      fields.currentTool = null
      if (event.cli_session_id) fields.cliSessionId = event.cli_session_id
    }
  }
  return fields
}
