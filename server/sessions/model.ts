// Request schemas of the sessions API (seed paths and field names).
import { t } from 'elysia'
import { SESSION_STATUSES } from '../db/schema/index.ts'
import { oneOf } from '../http/schema.ts'
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
