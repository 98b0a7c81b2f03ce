// Server -> agent frames that are not commands: the greeting, receipts for agent frames,
// errors about a frame, and goodbye (the agent must stop and not reconnect).
import { type Static, type TObject, Type } from '@sinclair/typebox'
import { COMMAND_SCHEMAS } from './commands.ts'
import { Id, IsoTime, MachineId } from './common.ts'

/** Sent in answer to hello. */
export const WelcomeFrame = Type.Object({
  type: Type.Literal('welcome'),
  machine_id: MachineId,
  protocol_version: Type.Integer(),
  heartbeat_interval_seconds: Type.Integer({ minimum: 1 }),
  server_time: IsoTime,
})
/** The agent frames carrying these ids are stored; the agent may forget them. */
export const ReceivedFrame = Type.Object({ type: Type.Literal('received'), ids: Type.Array(Id) })

export const ERROR_CODES = [
  'malformed', // not JSON, or fields missing / of the wrong type
  'unknown_type', // a `type` this protocol does not define
  'unsupported_version', // hello with a protocol_version the server does not speak
  'forbidden', // the frame names a session that is not this machine's
  'not_found', // the frame names a session that does not exist
  'too_large', // frame or batch over the limits
  'rate_limited', // too many frames of this kind; send it again later
  'internal', // the server failed; the agent should retry later
] as const
export type ErrorCode = (typeof ERROR_CODES)[number]

/** A problem with one agent frame; the channel stays open. `ref` is the frame's id when it had one. */
export const ErrorFrame = Type.Object({
  type: Type.Literal('error'),
  code: Type.Union(ERROR_CODES.map((c) => Type.Literal(c))),
  message: Type.String(),
  ref: Type.Optional(Type.String()),
})

export const GOODBYE_REASONS = ['revoked', 'deregistered', 'invalid_token'] as const
export type GoodbyeReason = (typeof GOODBYE_REASONS)[number]
/** The agent's token no longer works: stop, do not reconnect, tell the operator. */
export const GoodbyeFrame = Type.Object({
  type: Type.Literal('goodbye'),
  reason: Type.Union(GOODBYE_REASONS.map((r) => Type.Literal(r))),
  message: Type.String(),
})

export const SERVER_FRAME_SCHEMAS = {
  ...COMMAND_SCHEMAS,
  welcome: WelcomeFrame,
  received: ReceivedFrame,
  error: ErrorFrame,
  goodbye: GoodbyeFrame,
} as const satisfies Record<string, TObject>

export type ServerFrameType = keyof typeof SERVER_FRAME_SCHEMAS
export const ServerFrame = Type.Union(Object.values(SERVER_FRAME_SCHEMAS))
export type ServerFrame = Static<typeof ServerFrame>
export type WelcomeFrame = Static<typeof WelcomeFrame>
export type ReceivedFrame = Static<typeof ReceivedFrame>
export type ErrorFrame = Static<typeof ErrorFrame>
export type GoodbyeFrame = Static<typeof GoodbyeFrame>
/** Replies that are not commands (what a long-poll answer carries beside its commands). */
export type ReplyFrame = WelcomeFrame | ReceivedFrame | ErrorFrame
