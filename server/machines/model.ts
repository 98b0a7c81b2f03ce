// Request and response schemas of the machines API and agent registration (seed field names).
// A response field that is a column as stored takes the column's type from the table
// (drizzle-typebox); per field, since the API's names are snake_case and the rows' camelCase.
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import {
  DetectedCli,
  FsEntry,
  ISOLATION_LEVELS,
  Isolation,
  IsoTime,
  MachineId,
} from '../../protocol/index.ts'
import {
  MACHINE_PERMISSIONS,
  MACHINE_UPDATE_STATES,
  machineAssignments,
  remoteMachines,
  SESSION_STATUSES,
  sessions,
  users,
} from '../db/schema/index.ts'
import { NAME_PATTERN, NO_NUL_PATTERN, UPDATE_WINDOW_PATTERN } from '../http/patterns.ts'
import { NullableIsoTime, oneOf } from '../http/schema.ts'

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

/** Registration's answer (registration.ts registerAgent): the machine's id and its agent token. */
export const AgentRegistered = t.Object({
  machine_id: t.String(),
  agent_token: t.String(),
  agent_token_version: t.Integer(),
})

/** A machine deleted or deregistered (lifecycle.ts deleteMachine): how many sessions it ended. */
export const MachineDeleted = t.Object({
  machine_id: t.String(),
  deleted: t.Literal(true),
  sessions_ended: t.Integer({ minimum: 0 }),
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

const machine = createSelectSchema(remoteMachines).properties
const session = createSelectSchema(sessions).properties
const assignment = createSelectSchema(machineAssignments).properties
const user = createSelectSchema(users).properties
const JsonObject = t.Record(t.String(), t.Unknown())
const NullableNumber = t.Union([t.Number(), t.Null()])

/** One heartbeat's load (LoadSample in db/schema/machines.ts). */
const LoadSample = t.Object({
  at: IsoTime,
  cpu_percent: NullableNumber,
  memory_percent: NullableNumber,
  disk_free_gb: NullableNumber,
  disk_total_gb: NullableNumber,
})

/** A machine as lists show it (view.ts machineView). */
export const MachineSummary = t.Object({
  machine_id: machine.machineId,
  machine_name: machine.name,
  hostname: machine.hostname,
  os_type: machine.osType,
  os_version: machine.osVersion,
  status: machine.status,
  connected: machine.connected,
  transport: machine.transport,
  capabilities: JsonObject,
  isolation: Isolation,
  cli_tools: t.Array(DetectedCli),
  allowed_cli_tools: t.Array(t.String()),
  allowed_cli_tools_custom: t.Boolean(),
  required_isolation: machine.requiredIsolation,
  max_sessions: NullableNumber,
  agent_max_sessions: NullableNumber,
  max_sessions_setting: machine.maxSessions,
  agent_version: machine.agentVersion,
  self_update: t.Boolean(),
  update: t.Union([
    t.Object({
      state: oneOf(MACHINE_UPDATE_STATES),
      version: machine.updateVersion,
      error: machine.updateError,
      force: machine.updateForce,
      changed_at: NullableIsoTime,
    }),
    t.Null(),
  ]),
  auto_update: machine.autoUpdate,
  update_window: machine.updateWindow,
  work_dir: t.Union([t.String(), t.Null()]),
  tenant_id: machine.tenantId,
  labels: t.Array(t.String()),
  load_history: t.Array(LoadSample),
  terminal_access: machine.terminalAccess,
  last_heartbeat: NullableIsoTime,
  created_at: IsoTime,
  /** The caller's right on the machine (system admins: admin); absent where not asked. */
  current_user_permission: t.Optional(t.Union([assignment.permission, t.Null()])),
})
export const MachineList = t.Object({ machines: t.Array(MachineSummary) })
export const MachineAnswer = t.Object({ machine: MachineSummary })

/** A user assigned to a machine (view.ts assignedUserView). */
export const AssignedUser = t.Object({
  user_id: assignment.userId,
  username: user.username,
  display_name: user.displayName,
  permission: assignment.permission,
  assigned_at: IsoTime,
})

/** Detail: the summary with the agent's system info, and its users for the machine's admins. */
export const MachineDetail = t.Object({
  machine: t.Object({
    ...MachineSummary.properties,
    system_info: JsonObject,
    users: t.Optional(t.Array(AssignedUser)),
  }),
})

export const RegistrationTokenAnswer = t.Object({
  registration_token: t.String(),
  registration_id: t.String(),
  expires_at: IsoTime,
  install: t.Object({ bash: t.String(), powershell: t.String() }),
})

export const FleetVersions = t.Object({
  served_version: t.Union([t.String(), t.Null()]),
  versions: t.Array(
    t.Object({
      version: machine.agentVersion,
      machines: t.Integer(),
      online: t.Integer(),
      current: t.Boolean(),
    }),
  ),
  outdated: t.Integer(),
})

export const MachineSessions = t.Object({
  sessions: t.Array(
    t.Object({
      session_id: session.id,
      user_id: session.userId,
      status: session.status,
      project_path: session.projectPath,
      cli_tool: session.cliTool,
      model: session.model,
      title: session.title,
      created_at: IsoTime,
      updated_at: IsoTime,
      ended_at: NullableIsoTime,
    }),
  ),
  next_cursor: t.Union([t.String(), t.Null()]),
})

export const DeleteMachineAnswer = t.Object({
  machine_id: machine.machineId,
  deleted: t.Literal(true),
  sessions_ended: t.Integer(),
})
export const AssignAnswer = t.Object({
  machine_id: machine.machineId,
  user_id: assignment.userId,
  permission: assignment.permission,
})
export const UnassignAnswer = t.Object({
  machine_id: machine.machineId,
  user_id: assignment.userId,
  revoked: t.Literal(true),
})
export const MachineUsers = t.Object({ users: t.Array(AssignedUser) })
export const BrowseAnswer = t.Object({ path: t.String(), entries: t.Array(FsEntry) })
export const RotateTokenAnswer = t.Object({
  machine_id: machine.machineId,
  agent_token: t.String(),
  version: t.Integer(),
  mode: t.Union([t.Literal('immediate'), t.Literal('graceful')]),
})
export const RevokeTokenAnswer = t.Object({ machine_id: machine.machineId, revoked: t.Literal(true) })
