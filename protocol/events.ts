// Structured events a CLI adapter parses out of the CLI's output; they ride on output records
// so the browser can render assistant text, thinking, tool calls and results, not raw lines.
import { type Static, Type } from '@sinclair/typebox'
import { Id } from './common.ts'

export const TokenUsage = Type.Object({
  input_tokens: Type.Integer({ minimum: 0 }),
  output_tokens: Type.Integer({ minimum: 0 }),
  cache_read_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
  cache_write_tokens: Type.Optional(Type.Integer({ minimum: 0 })),
})
export type TokenUsage = Static<typeof TokenUsage>

export const AssistantTextEvent = Type.Object({ kind: Type.Literal('assistant_text'), text: Type.String() })
/**
 * A piece of assistant text as the model generates it (the CLI's partial messages). The
 * complete message follows as assistant_text and replaces the pieces; they only let a reader
 * watch the answer grow.
 */
export const AssistantDeltaEvent = Type.Object({ kind: Type.Literal('assistant_delta'), text: Type.String() })
export const ThinkingEvent = Type.Object({ kind: Type.Literal('thinking'), text: Type.String() })
export const ToolUseEvent = Type.Object({
  kind: Type.Literal('tool_use'),
  tool_use_id: Type.String(),
  name: Type.String(),
  input: Type.Unknown(),
})
export const ToolResultEvent = Type.Object({
  kind: Type.Literal('tool_result'),
  tool_use_id: Type.String(),
  output: Type.String(),
  is_error: Type.Optional(Type.Boolean()),
})
/** The end of one turn: final text, usage as the CLI reported it, the CLI's own session id. */
export const ResultEvent = Type.Object({
  kind: Type.Literal('result'),
  is_error: Type.Optional(Type.Boolean()),
  text: Type.Optional(Type.String()),
  usage: Type.Optional(TokenUsage),
  duration_ms: Type.Optional(Type.Number({ minimum: 0 })),
  cli_session_id: Type.Optional(Type.String()),
})
/** The CLI asks whether a tool may run; answered by a session.permission command. */
export const PermissionRequestEvent = Type.Object({
  kind: Type.Literal('permission_request'),
  request_id: Id,
  tool_name: Type.String(),
  input: Type.Unknown(),
  description: Type.Optional(Type.String()),
})

export const OutputEvent = Type.Union([
  AssistantTextEvent,
  AssistantDeltaEvent,
  ThinkingEvent,
  ToolUseEvent,
  ToolResultEvent,
  ResultEvent,
  PermissionRequestEvent,
])
export type OutputEvent = Static<typeof OutputEvent>
export const OUTPUT_EVENT_KINDS = [
  'assistant_text',
  'assistant_delta',
  'thinking',
  'tool_use',
  'tool_result',
  'result',
  'permission_request',
] as const
export type OutputEventKind = (typeof OUTPUT_EVENT_KINDS)[number]

/**
 * Made by the server, never accepted from an agent: the session's oldest output was dropped to
 * keep it under its stored-output limit. It takes the place of the last record it dropped.
 */
export const OutputDroppedEvent = Type.Object({
  kind: Type.Literal('output_dropped'),
  /** All output dropped from the session so far. */
  dropped_bytes: Type.Integer({ minimum: 0 }),
  limit_bytes: Type.Integer({ minimum: 0 }),
})
export type OutputDroppedEvent = Static<typeof OutputDroppedEvent>
/** What a stored output record may carry: the agent's events and the server's own notices. */
export type StoredOutputEvent = OutputEvent | OutputDroppedEvent
