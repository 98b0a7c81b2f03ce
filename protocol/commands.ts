// Server -> agent commands. Each has a server-chosen `id`; the agent acks it by id (ack frame)
// and ignores a redelivered id, so a redelivery after a reconnect never repeats an effect.
import { type Static, type TObject, type TProperties, Type } from '@sinclair/typebox'
import { ChangesRequest } from './changes.ts'
import { Id, IsoTime } from './common.ts'

function command<K extends string, P extends TProperties>(type: K, props: P) {
  return Type.Object({ id: Id, type: Type.Literal(type), ...props })
}

const SessionRef = { session_id: Id }

export const SessionStartCommand = command('session.start', {
  ...SessionRef,
  cli_tool: Type.String({ minLength: 1 }),
  model: Type.String(),
  project_path: Type.String({ minLength: 1 }),
  /** Base URL the CLI must use for every LLM call (the server's /api/remote/llm-proxy). */
  proxy_base_url: Type.String({ minLength: 1 }),
  /** Short-lived proxy token the CLI uses as its API key; never a real provider key. */
  proxy_token: Type.String({ minLength: 1 }),
  env: Type.Optional(Type.Record(Type.String(), Type.String())),
  permission_mode: Type.Optional(Type.String()),
  /** Resume the CLI's own conversation (e.g. claude --resume <id>). */
  resume_cli_session_id: Type.Optional(Type.String()),
  /** A continued session: its first output seq (after the output it already has). */
  next_seq: Type.Optional(Type.Integer({ minimum: 0 })),
  /** The session's user: its CLI home (logins, history) is kept per user, apart from others'. */
  user_id: Type.Optional(Type.Integer({ minimum: 1 })),
})
export const SessionInputCommand = command('session.input', {
  ...SessionRef,
  message_id: Id,
  content: Type.String(),
})
export const SessionStopCommand = command('session.stop', SessionRef)
export const SessionPauseCommand = command('session.pause', SessionRef)
export const SessionResumeCommand = command('session.resume', SessionRef)
export const SessionAbortCommand = command('session.abort', SessionRef)
/** The answer to a permission_request event. */
export const SessionPermissionCommand = command('session.permission', {
  ...SessionRef,
  request_id: Id,
  allow: Type.Boolean(),
  always: Type.Optional(Type.Boolean()),
})
/** List one directory; `~` is the agent user's home. Answered by an fs.result with the same request_id. */
export const FsListCommand = command('fs.list', { request_id: Id, path: Type.String({ minLength: 1 }) })
/** Most log lines the agent keeps in memory and sends in one log.result. */
export const LOG_TAIL_MAX_LINES = 500
/** The agent's most recent log lines (masked as in agent.log); answered by log.result with the same request_id. */
export const LogTailCommand = command('log.tail', {
  request_id: Id,
  lines: Type.Optional(Type.Integer({ minimum: 1, maximum: LOG_TAIL_MAX_LINES })),
})
/** A changes-panel request about a session's project; answered by changes.result with the same request_id. */
export const ChangesRequestCommand = command('changes.request', ChangesRequest.properties)
export const TokenRefreshCommand = command('token.refresh', {
  ...SessionRef,
  proxy_token: Type.String({ minLength: 1 }),
  expires_at: IsoTime,
})
/**
 * A rotated agent token: the agent stores it, reconnects with it (its first use retires the old
 * one) and ignores any token whose version is not newer than the one it holds.
 */
export const AgentTokenCommand = command('agent.token', {
  agent_token: Type.String({ minLength: 1 }),
  version: Type.Integer({ minimum: 1 }),
})
/**
 * Ask the agent to replace itself with another build: download `url` (resolved against the
 * agent's server_url when relative), refuse it unless its SHA-256 is `sha256`, wait until no
 * session is live (unless `force`), swap the binary keeping the previous one, restart.
 */
export const AgentUpdateCommand = command('agent.update', {
  version: Type.String({ minLength: 1, maxLength: 64 }),
  url: Type.String({ minLength: 1 }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  force: Type.Optional(Type.Boolean()),
})

export const COMMAND_SCHEMAS = {
  'session.start': SessionStartCommand,
  'session.input': SessionInputCommand,
  'session.stop': SessionStopCommand,
  'session.pause': SessionPauseCommand,
  'session.resume': SessionResumeCommand,
  'session.abort': SessionAbortCommand,
  'session.permission': SessionPermissionCommand,
  'fs.list': FsListCommand,
  'log.tail': LogTailCommand,
  'changes.request': ChangesRequestCommand,
  'token.refresh': TokenRefreshCommand,
  'agent.update': AgentUpdateCommand,
  'agent.token': AgentTokenCommand,
} as const satisfies Record<string, TObject>

export type CommandType = keyof typeof COMMAND_SCHEMAS
export const COMMAND_TYPES = Object.keys(COMMAND_SCHEMAS) as CommandType[]

export const Command = Type.Union(Object.values(COMMAND_SCHEMAS))
export type Command = Static<typeof Command>
/** One command of a given type, e.g. CommandOf<'session.input'>. */
export type CommandOf<K extends CommandType> = Static<(typeof COMMAND_SCHEMAS)[K]>
/** What the server queues: a command without its id (the queue assigns it). */
export type CommandPayload<K extends CommandType = CommandType> = K extends CommandType
  ? Omit<CommandOf<K>, 'id'>
  : never
