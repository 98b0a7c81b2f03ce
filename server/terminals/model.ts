// Request shapes of the terminals API (Elysia's `t`, so query numbers are coerced).
import { t } from 'elysia'
import { MachineId, TERMINAL_MAX_COLS, TERMINAL_MAX_ROWS } from '../../protocol/index.ts'
import { TERMINAL_ACCESS } from '../db/schema/index.ts'
import { oneOf } from '../http/schema.ts'

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
export const MachineIdParams = t.Object({ id: MachineId })
