// Request and response schemas of the machines API and agent registration (seed field names).
import { t } from 'elysia'
import { ISOLATION_LEVELS, MachineId } from '../../protocol/index.ts'
import { MACHINE_PERMISSIONS, SESSION_STATUSES } from '../db/schema/index.ts'
import { NAME_PATTERN, NO_NUL_PATTERN, UPDATE_WINDOW_PATTERN } from '../http/patterns.ts'
import { oneOf } from '../http/schema.ts'

export const MachineIdParams = t.Object({ id: MachineId })
export const MachineUserParams = t.Object({ id: MachineId, user_id: t.Integer({ minimum: 1 }) })

/** tenant_id is a Postgres integer: a larger number is a 400, not a database error. */
export const RegisterTokenBody = t.Object({ tenant_id: t.Integer({ minimum: 1, maximum: 2_147_483_647 }) })

export const AgentRegisterBody = t.Object({
  registration_token: t.String({ minLength: 1, maxLength: 256 }),
  machine_id: MachineId,
  machine_name: t.String({ maxLength: 200 }),
  hostname: t.String({ minLength: 1, maxLength: 255 }),
  os_type: t.String({ minLength: 1, maxLength: 64 }),
  os_version: t.String({ maxLength: 255 }),
  capabilities: t.Record(t.String(), t.Unknown()),
  agent_version: t.String({ minLength: 1, maxLength: 64 }),
})

export const AssignBody = t.Object({
  user_id: t.Integer({ minimum: 1 }),
  permission: t.Optional(oneOf(MACHINE_PERMISSIONS)),
})

// No NUL: no file system path holds one, and Postgres cannot store it in the queued command (500).
export const BrowseQuery = t.Object({
  path: t.Optional(t.String({ minLength: 1, maxLength: 4096, pattern: NO_NUL_PATTERN })),
})

export const RotateTokenQuery = t.Object({
  /** Emergency: the old token stops at once and the live channel is cut (the agent must be re-registered). */
  immediate: t.Optional(t.Boolean()),
})

/** A CLI tool name as session.start's cli_tool takes it (an adapter name or an executable). */
export const CliToolName = t.String({ minLength: 1, maxLength: 64, pattern: NAME_PATTERN })

export const MAX_MACHINE_LABELS = 20
/** The highest session limit an admin may set on a machine. */
export const MAX_SESSIONS_SETTING = 1000
/** A label: letters, digits, '.', '_', '-' (gpu, team-a, eu-west.2). */
export const MachineLabel = t.String({ minLength: 1, maxLength: 40, pattern: NAME_PATTERN })

export const MachineSettingsBody = t.Object(
  {
    /** null = follow what the agent detects. */
    allowed_cli_tools: t.Optional(t.Union([t.Array(CliToolName, { maxItems: 50 }), t.Null()])),
    required_isolation: t.Optional(oneOf(ISOLATION_LEVELS)),
    /** Automatic agent updates here; null: follow the server's AGENT_AUTO_UPDATE. */
    auto_update: t.Optional(t.Union([t.Boolean(), t.Null()])),
    /** 'HH:MM-HH:MM' UTC when automatic updates may go out; null: the server's AGENT_UPDATE_WINDOW. */
    update_window: t.Optional(t.Union([t.String({ pattern: UPDATE_WINDOW_PATTERN }), t.Null()])),
    /** The machine's labels, replacing the current ones. */
    labels: t.Optional(t.Array(MachineLabel, { maxItems: MAX_MACHINE_LABELS })),
    /** Sessions at once; null: the agent's own limit (the lower of the two applies). */
    max_sessions: t.Optional(t.Union([t.Integer({ minimum: 1, maximum: MAX_SESSIONS_SETTING }), t.Null()])),
  },
  { minProperties: 1 },
)

export const DEFAULT_MACHINE_SESSIONS_PAGE = 50
export const MAX_MACHINE_SESSIONS_PAGE = 200

/** GET /api/remote/machines/{id}/sessions: a status (or `live` / `ended`), a page size, the next page. */
export const MachineSessionsQuery = t.Object({
  status: t.Optional(oneOf([...SESSION_STATUSES, 'live', 'ended'] as const)),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_MACHINE_SESSIONS_PAGE })),
  cursor: t.Optional(t.String({ minLength: 1, maxLength: 200 })),
})
