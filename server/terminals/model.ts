// Request and response shapes of the terminals API (Elysia's `t`, so query numbers are
// coerced). A terminal's fields take their types from its table (drizzle-typebox).
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { IsoTime, MachineId, TERMINAL_MAX_COLS, TERMINAL_MAX_ROWS } from '../../protocol/index.ts'
import { remoteMachines, TERMINAL_ACCESS, terminals } from '../db/schema/index.ts'
import { NullableIsoTime, oneOf } from '../http/schema.ts'

export const OpenTerminalBody = t.Object({
  machine_id: MachineId,
  /** Open beside this session: same project directory, same sandbox. */
  session_id: t.Optional(t.String({ format: 'uuid' })),
})

export const TerminalIdParams = t.Object({ id: t.String({ format: 'uuid' }) })

export const TerminalSocketQuery = t.Object({
  /** Output the browser already shows (a reconnect resumes after it). */
  offset: t.Optional(t.Numeric({ minimum: 0 })),
  cols: t.Optional(t.Integer({ minimum: 1, maximum: TERMINAL_MAX_COLS })),
  rows: t.Optional(t.Integer({ minimum: 1, maximum: TERMINAL_MAX_ROWS })),
})

export const TerminalAccessBody = t.Object({ terminal_access: oneOf(TERMINAL_ACCESS) })

const terminal = createSelectSchema(terminals).properties
const machine = createSelectSchema(remoteMachines).properties

/** A terminal as the API shows it (service.ts terminalView). */
export const TerminalAnswer = t.Object({
  terminal: t.Object({
    terminal_id: terminal.id,
    machine_id: terminal.machineId,
    session_id: terminal.sessionId,
    cwd: terminal.cwd,
    status: terminal.status,
    bytes_in: terminal.bytesIn,
    bytes_out: terminal.bytesOut,
    created_at: IsoTime,
    closed_at: NullableIsoTime,
    close_reason: terminal.closeReason,
    /** Where the browser opens the terminal's WebSocket. */
    ws_path: t.String(),
  }),
})
export const ClosedTerminalAnswer = t.Object({ terminal_id: terminal.id, closed: t.Literal(true) })
export const TerminalAccessAnswer = t.Object({
  machine_id: machine.machineId,
  terminal_access: machine.terminalAccess,
})
