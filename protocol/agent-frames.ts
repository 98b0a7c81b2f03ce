// Agent -> server frames. Any frame may carry an agent-chosen `id`; the server answers a
// `received` frame with it once the frame's effect is stored, so the agent knows what it can
// drop and resends the rest after a reconnect (the server's handlers are idempotent).
import { type Static, type TObject, type TProperties, Type } from '@sinclair/typebox'
import {
  Id,
  IsoTime,
  MAX_OUTPUT_DATA_CHARS,
  MAX_OUTPUT_RECORDS_PER_BATCH,
  MachineId,
  SystemInfo,
} from './common.ts'
import { OutputEvent, TokenUsage } from './events.ts'

function frame<K extends string, P extends TProperties>(type: K, props: P) {
  return Type.Object({ type: Type.Literal(type), id: Type.Optional(Id), ...props })
}

/**
 * Where a self-update (agent.update) stands on the agent: downloading, downloaded and waiting
 * for live sessions to end, installing, restarting into the new binary; or how it ended badly:
 * failed (refused before anything was replaced: checksum, download, version check) or
 * rolled_back (the new binary did not come online, the previous one is back).
 */
export const AGENT_UPDATE_STATES = [
  'downloading',
  'waiting',
  'installing',
  'restarting',
  'failed',
  'rolled_back',
] as const
export type AgentUpdateState = (typeof AGENT_UPDATE_STATES)[number]
export const AgentUpdateStatus = Type.Object({
  /** The version being installed (the command's). */
  version: Type.String({ minLength: 1, maxLength: 64 }),
  state: Type.Union(AGENT_UPDATE_STATES.map((s) => Type.Literal(s))),
  /** Why it failed or was rolled back, in words for an operator. */
  reason: Type.Optional(Type.String({ maxLength: 2000 })),
})
export type AgentUpdateStatus = Static<typeof AgentUpdateStatus>

export const HelloFrame = frame('hello', {
  machine_id: MachineId,
  agent_version: Type.String({ minLength: 1, maxLength: 64 }),
  protocol_version: Type.Integer({ minimum: 1 }),
  system_info: SystemInfo,
  capabilities: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  /**
   * The agent's self-update in progress, or the outcome of one the server has not heard yet
   * (a rollback happens while disconnected): in hello so the server knows before it decides
   * whether to offer the update again.
   */
  update: Type.Optional(AgentUpdateStatus),
})

export const AGENT_SESSION_STATES = ['starting', 'running', 'paused', 'exited'] as const
export type AgentSessionState = (typeof AGENT_SESSION_STATES)[number]
/** One session as the agent sees it, reported with every heartbeat. */
export const AgentSessionStatus = Type.Object({
  session_id: Id,
  state: Type.Union(AGENT_SESSION_STATES.map((s) => Type.Literal(s))),
  cli_session_id: Type.Optional(Type.String()),
  /** Highest output seq the agent has produced for this session. */
  last_seq: Type.Optional(Type.Integer({ minimum: -1 })),
})
export type AgentSessionStatus = Static<typeof AgentSessionStatus>

export const HeartbeatFrame = frame('heartbeat', {
  system_info: Type.Optional(SystemInfo),
  sessions: Type.Array(AgentSessionStatus),
})
/** The commands with these ids were received (and will not be run twice). */
export const AckFrame = frame('ack', { command_ids: Type.Array(Id, { minItems: 1, maxItems: 1000 }) })

export const SessionStartedFrame = frame('session.started', {
  session_id: Id,
  pid: Type.Optional(Type.Integer()),
  cli_session_id: Type.Optional(Type.String()),
})
export const SessionExitedFrame = frame('session.exited', {
  session_id: Id,
  exit_code: Type.Union([Type.Integer(), Type.Null()]),
  signal: Type.Optional(Type.Union([Type.String(), Type.Null()])),
  reason: Type.Optional(Type.String()),
  /** The CLI's own conversation id, for continuing the session later. */
  cli_session_id: Type.Optional(Type.String()),
})
export const SessionErrorFrame = frame('session.error', {
  session_id: Id,
  message: Type.String(),
  code: Type.Optional(Type.String()),
})

export const OUTPUT_STREAMS = ['stdout', 'stderr', 'system'] as const
export type OutputStream = (typeof OUTPUT_STREAMS)[number]
/** One line (or chunk) of CLI output; `seq` is per session, from 0, gap-free on the agent. */
export const OutputRecord = Type.Object({
  seq: Type.Integer({ minimum: 0 }),
  stream: Type.Union(OUTPUT_STREAMS.map((s) => Type.Literal(s))),
  data: Type.String({ maxLength: MAX_OUTPUT_DATA_CHARS }),
  ts: IsoTime,
  event: Type.Optional(OutputEvent),
})
export type OutputRecord = Static<typeof OutputRecord>
export const SessionOutputFrame = frame('session.output', {
  session_id: Id,
  records: Type.Array(OutputRecord, { minItems: 1, maxItems: MAX_OUTPUT_RECORDS_PER_BATCH }),
})

export const FsEntry = Type.Object({
  name: Type.String(),
  type: Type.Union([
    Type.Literal('file'),
    Type.Literal('dir'),
    Type.Literal('symlink'),
    Type.Literal('other'),
  ]),
  size: Type.Optional(Type.Integer({ minimum: 0 })),
  modified_at: Type.Optional(IsoTime),
})
export type FsEntry = Static<typeof FsEntry>
/** Answer to fs.list: entries, or an error message (no such directory, permission denied). */
export const FsResultFrame = frame('fs.result', {
  request_id: Id,
  path: Type.String(),
  entries: Type.Optional(Type.Array(FsEntry)),
  error: Type.Optional(Type.String()),
})

/** Answer to log.tail: the agent's newest log lines, oldest first (secrets masked before kept). */
export const LogResultFrame = frame('log.result', {
  request_id: Id,
  lines: Type.Array(Type.String({ maxLength: 16_384 }), { maxItems: 500 }),
})

/** Answer to changes.request: `result` (ChangesList, FileDiff, or an action's outcome) or `error`. */
export const ChangesResultFrame = frame('changes.result', {
  request_id: Id,
  session_id: Id,
  result: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  error: Type.Optional(Type.String()),
  /** `conflict`: the file changed since the hunk was shown; `not_found`, `invalid`, `failed`. */
  code: Type.Optional(Type.String()),
})
/** The session's project changed on disk (debounced): browsers refresh their changes panel. */
export const ChangesUpdatedFrame = frame('changes.updated', { session_id: Id })

/** Token usage as the CLI reported it; the proxy's own count stays authoritative. */
export const UsageReportFrame = frame('usage.report', {
  session_id: Id,
  model: Type.Optional(Type.String()),
  usage: TokenUsage,
  ts: IsoTime,
})

/** A self-update moved on (see AGENT_UPDATE_STATES); the server shows it to admins. */
export const AgentUpdateStatusFrame = frame('agent.update_status', AgentUpdateStatus.properties)

export const AGENT_FRAME_SCHEMAS = {
  hello: HelloFrame,
  heartbeat: HeartbeatFrame,
  ack: AckFrame,
  'session.started': SessionStartedFrame,
  'session.exited': SessionExitedFrame,
  'session.error': SessionErrorFrame,
  'session.output': SessionOutputFrame,
  'fs.result': FsResultFrame,
  'log.result': LogResultFrame,
  'changes.result': ChangesResultFrame,
  'changes.updated': ChangesUpdatedFrame,
  'usage.report': UsageReportFrame,
  'agent.update_status': AgentUpdateStatusFrame,
} as const satisfies Record<string, TObject>

export type AgentFrameType = keyof typeof AGENT_FRAME_SCHEMAS
export const AGENT_FRAME_TYPES = Object.keys(AGENT_FRAME_SCHEMAS) as AgentFrameType[]
export const AgentFrame = Type.Union(Object.values(AGENT_FRAME_SCHEMAS))
export type AgentFrame = Static<typeof AgentFrame>
export type AgentFrameOf<K extends AgentFrameType> = Static<(typeof AGENT_FRAME_SCHEMAS)[K]>
export type HelloFrame = AgentFrameOf<'hello'>
export type HeartbeatFrame = AgentFrameOf<'heartbeat'>
export type SessionOutputFrame = AgentFrameOf<'session.output'>
