// Coding sessions as far as the agent channel needs them (the sessions capability extends this),
// their sequence-numbered output, and the durable command queue to each machine's agent.
import {
  bigint,
  bigserial,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  uuid,
} from 'drizzle-orm/pg-core'
import { OUTPUT_STREAMS, type StoredOutputEvent } from '../../../protocol/index.ts'
import { belongsToUser, tenants } from './identity.ts'
import { belongsToMachine, remoteMachines } from './machines.ts'
import { SESSION_STATUSES } from './session-status.ts'
import { createdAt, tz } from './timestamps.ts'

export const WORKSPACE_TYPES = ['remote', 'local'] as const
export type WorkspaceType = (typeof WORKSPACE_TYPES)[number]
/** A problem with a session's LLM calls, shown in the session as it happens. */
export interface SessionAlert {
  /** The refusal's type (quota_exceeded, config_error, upstream_unreachable...), or quota_warning. */
  code: string
  level: 'error' | 'warning'
  message: string
  at: string
  /** When a quota limit resets (ISO), for quota alerts. */
  resets_at?: string
}
export const COMMAND_STATUSES = ['pending', 'delivered', 'acked'] as const
export type CommandStatus = (typeof COMMAND_STATUSES)[number]

export const sessions = pgTable(
  'sessions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    userId: belongsToUser(),
    remoteMachineId: text('remote_machine_id').references(() => remoteMachines.machineId, {
      onDelete: 'cascade',
    }),
    workspaceType: text('workspace_type', { enum: WORKSPACE_TYPES }).notNull().default('remote'),
    status: text('status', { enum: SESSION_STATUSES }).notNull().default('starting'),
    projectPath: text('project_path').notNull(),
    cliTool: text('cli_tool').notNull(),
    model: text('model').notNull().default(''),
    title: text('title'),
    permissionMode: text('permission_mode'),
    /** The CLI's own conversation id, for resuming it. */
    cliSessionId: text('cli_session_id'),
    /** Why the session failed (set with status `error`): a stable code and a sentence for a person. */
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** The latest refusal or warning of the LLM proxy about this session's calls (quota, key, upstream). */
    alert: jsonb('alert').$type<SessionAlert>(),
    /**
     * Set when the owner asked a session stopped by its quota to continue by itself when the
     * quota resets (sessions/auto-continue.ts): the server base URL its CLI reaches the proxy at.
     */
    autoContinueUrl: text('auto_continue_url'),
    /** When the current turn began (the last message sent); null while the CLI waits for input. */
    turnStartedAt: tz('turn_started_at'),
    /** The tool the CLI is running in the current turn, if any. */
    currentTool: text('current_tool'),
    /** Bytes of output stored now (records' data and events), kept under SESSION_OUTPUT_MAX_MB. */
    outputBytes: bigint('output_bytes', { mode: 'number' }).notNull().default(0),
    /** Bytes of the oldest output dropped to stay under the limit, and the seq it ran through. */
    outputDroppedBytes: bigint('output_dropped_bytes', { mode: 'number' }).notNull().default(0),
    outputDroppedThrough: integer('output_dropped_through').notNull().default(-1),
    createdAt: createdAt(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    endedAt: tz('ended_at'),
  },
  (t) => [
    index('sessions_machine_idx').on(t.remoteMachineId, t.status),
    index('sessions_user_idx').on(t.userId, t.createdAt),
  ],
)

/** Output records, stored once per (session_id, seq) so a resent batch changes nothing. */
export const sessionOutput = pgTable(
  'session_output',
  {
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    seq: integer('seq').notNull(),
    stream: text('stream', { enum: OUTPUT_STREAMS }).notNull(),
    data: text('data').notNull(),
    event: jsonb('event').$type<StoredOutputEvent>(),
    ts: tz('ts').notNull(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.seq] })],
)

/** The durable queue of server -> agent commands: pending -> delivered -> acked. */
export const agentCommands = pgTable(
  'agent_commands',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Queue order: commands reach the agent in the order they were queued. */
    seq: bigserial('seq', { mode: 'number' }).notNull(),
    machineId: belongsToMachine(),
    sessionId: uuid('session_id').references(() => sessions.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    /** The command without its id and type (they are the row's id and kind). */
    payload: jsonb('payload').$type<Record<string, unknown>>().notNull(),
    status: text('status', { enum: COMMAND_STATUSES }).notNull().default('pending'),
    createdAt: createdAt(),
    deliveredAt: tz('delivered_at'),
    ackedAt: tz('acked_at'),
    attempts: integer('attempts').notNull().default(0),
    /** What the agent answered, for commands that have an answer (fs.list -> fs.result). */
    result: jsonb('result').$type<Record<string, unknown>>(),
  },
  (t) => [index('agent_commands_machine_status_idx').on(t.machineId, t.status, t.seq)],
)
