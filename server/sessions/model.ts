// Request and response schemas of the sessions API (seed paths and field names). Fields that
// are a column as stored take the column's type from the table (drizzle-typebox), so a column
// change shows in the API; the names stay the seed's snake_case, hence per field, not per row.
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { IsoTime, OutputDroppedEvent, OutputEvent } from '../../protocol/index.ts'
import {
  DISCONNECTED,
  permissionRequests,
  quotaUsage,
  remoteMachines,
  SESSION_STATUSES,
  sessionMessages,
  sessionOutput,
  sessions,
} from '../db/schema/index.ts'
import { NullableIsoTime, oneOf } from '../http/schema.ts'
import { CliToolName } from '../machines/model.ts'
import { TenantId } from '../tenants/model.ts'

export const PERMISSION_MODES = ['default', 'auto-edit', 'yolo'] as const
export type PermissionMode = (typeof PERMISSION_MODES)[number]
export const MAX_CHAT_CHARS = 200_000
export const DEFAULT_OUTPUT_PAGE = 1000
export const MAX_OUTPUT_PAGE = 5000
/** Most output text one page carries (records' data and events); the next page follows. */
export const MAX_OUTPUT_PAGE_BYTES = 1024 * 1024

export const CreateSessionBody = t.Object({
  machine_id: t.String({ minLength: 1, maxLength: 128 }),
  project_path: t.String({ minLength: 1, maxLength: 4096 }),
  cli_tool: t.Optional(CliToolName),
  model: t.Optional(t.String({ maxLength: 200 })),
  title: t.Optional(t.String({ maxLength: 200 })),
  permission_mode: t.Optional(oneOf(PERMISSION_MODES)),
})

export const UpdateSessionBody = t.Object(
  { title: t.Optional(t.String({ maxLength: 200 })), permission_mode: t.Optional(oneOf(PERMISSION_MODES)) },
  { minProperties: 1 },
)

export const SessionIdParams = t.Object({ id: t.String({ format: 'uuid' }) })
export const RuleParams = t.Object({
  id: t.String({ format: 'uuid' }),
  tool: t.String({ minLength: 1, maxLength: 200 }),
})
export const ChatBody = t.Object({ content: t.String({ minLength: 1, maxLength: MAX_CHAT_CHARS }) })
export const PermissionBody = t.Object({
  request_id: t.String({ minLength: 1, maxLength: 128 }),
  allow: t.Boolean(),
  always: t.Optional(t.Boolean()),
})

export const SessionQuery = t.Object({
  output_after: t.Optional(t.Integer({ minimum: -1 })),
  output_limit: t.Optional(t.Integer({ minimum: 1, maximum: MAX_OUTPUT_PAGE })),
})
/** `?last_event_id=` resumes a first connect (EventSource sends the header on reconnects). */
export const StreamQuery = t.Object({ last_event_id: t.Optional(t.String({ maxLength: 32 })) })
export const ListQuery = t.Object({
  machine_id: t.Optional(t.String({ maxLength: 128 })),
  status: t.Optional(oneOf(SESSION_STATUSES)),
  all: t.Optional(t.Boolean()),
  tenant_id: t.Optional(TenantId),
})

export const AutoContinueBody = t.Object({
  /** Continue by itself when the quota that stopped it resets (true), or not (false). */
  enabled: t.Boolean(),
})

const session = createSelectSchema(sessions).properties
const output = createSelectSchema(sessionOutput).properties
const message = createSelectSchema(sessionMessages).properties
const permission = createSelectSchema(permissionRequests).properties

/** sessions.alert: the latest quota or provider problem (SessionAlert in db/schema/sessions.ts). */
const SessionAlert = t.Object({
  code: t.String(),
  level: t.Union([t.Literal('error'), t.Literal('warning')]),
  message: t.String(),
  at: IsoTime,
  resets_at: t.Optional(IsoTime),
})

/** A session as lists show it (view.ts sessionView). */
export const SessionSummary = t.Object({
  session_id: session.id,
  /** The stored state, or `disconnected` while a live session's machine is offline. */
  status: t.Union([session.status, t.Literal(DISCONNECTED)]),
  workspace_type: session.workspaceType,
  machine_id: session.remoteMachineId,
  remote_machine_id: session.remoteMachineId,
  machine_name: t.Union([createSelectSchema(remoteMachines).properties.name, t.Null()]),
  user_id: session.userId,
  project_path: session.projectPath,
  cli_tool: session.cliTool,
  model: session.model,
  title: session.title,
  permission_mode: t.String(),
  total_tokens: t.Integer(),
  input_tokens: t.Integer(),
  output_tokens: t.Integer(),
  message_count: t.Integer(),
  pending_permissions: t.Integer(),
  model_in_use: createSelectSchema(quotaUsage).properties.model,
  error: t.Union([t.Object({ code: t.String(), message: t.String() }), t.Null()]),
  alert: t.Union([SessionAlert, t.Null()]),
  auto_continue: t.Boolean(),
  working: t.Union([t.Object({ since: IsoTime, tool: session.currentTool }), t.Null()]),
  created_at: IsoTime,
  updated_at: IsoTime,
  ended_at: NullableIsoTime,
})
export const SessionAnswer = t.Object({ session: SessionSummary })

export const PermissionRule = t.Object({ tool_name: t.String(), created_at: IsoTime })
export const PermissionRules = t.Object({ rules: t.Array(PermissionRule) })

/** One session with a page of its output and its conversation (service.ts getSession). */
export const SessionDetail = t.Object({
  session: t.Object({
    ...t.Omit(SessionSummary, ['pending_permissions']).properties,
    last_seq: t.Integer(),
    output: t.Array(
      t.Object({
        seq: output.seq,
        stream: output.stream,
        data: output.data,
        event: t.Union([OutputEvent, OutputDroppedEvent, t.Null()]),
        timestamp: IsoTime,
      }),
    ),
    output_has_more: t.Boolean(),
    messages: t.Array(
      t.Object({
        message_id: message.id,
        role: t.Literal('user'),
        content: message.content,
        user_id: message.userId,
        after_seq: message.afterSeq,
        created_at: IsoTime,
      }),
    ),
    /** Permission requests waiting for the person (the list's count, spelled out). */
    pending_permissions: t.Array(
      t.Object({
        request_id: permission.requestId,
        tool_name: permission.toolName,
        input: t.Unknown(),
        description: permission.description,
        seq: permission.seq,
        created_at: IsoTime,
      }),
    ),
    permission_outcomes: t.Array(
      t.Object({
        request_id: permission.requestId,
        tool_name: permission.toolName,
        decision: permission.decision,
        always: permission.always,
        by: t.Union([t.Literal('auto'), t.Literal('user')]),
      }),
    ),
    permission_rules: t.Array(PermissionRule),
  }),
})

export const ChatAnswer = t.Object({ message_id: t.String({ format: 'uuid' }), created_at: IsoTime })
export const ControlAnswer = t.Object({ session_id: session.id, status: session.status })
export const PermissionAnswer = t.Object({
  request_id: permission.requestId,
  decision: permission.decision,
  always: permission.always,
})
