// How frames travel: the two endpoints, the long-poll envelope, the 401 answer that tells a
// revoked agent to stop, and WebSocket close codes. Both transports carry the same frames.
import { type Static, Type } from '@sinclair/typebox'
import type { AgentFrame } from './agent-frames.ts'
import { Command } from './commands.ts'
import { MAX_EVENTS_PER_POLL } from './common.ts'
import { ErrorFrame, GoodbyeFrame, ReceivedFrame, type ReplyFrame, WelcomeFrame } from './server-frames.ts'
import { MAX_TERMINAL_MESSAGES_PER_POLL } from './terminal.ts'

/** WebSocket endpoint (GET, upgrade). Header: `Authorization: Bearer <agent token>`. */
export const AGENT_WS_PATH = '/api/remote/agent/ws'
/** Long-poll endpoint (POST JSON). Same header. */
export const AGENT_MESSAGE_PATH = '/api/remote/agent/message'
/** One-time registration with a registration token (POST JSON). */
export const AGENT_REGISTER_PATH = '/api/remote/agent/register'
/** The LLM proxy the agent's CLI calls with its proxy token (session.start's proxy_base_url). */
export const LLM_PROXY_PATH = '/api/remote/llm-proxy'

/**
 * Terminal traffic on long-poll: the binary terminal messages the WebSocket carries
 * (protocol/terminal.ts), each as base64, in order. Not durable: like a WebSocket's, what a lost
 * answer carried is gone, and the server reopens the terminal from the browser's offset.
 */
export const LongPollTerminalMessages = Type.Array(Type.String({ contentEncoding: 'base64' }), {
  maxItems: MAX_TERMINAL_MESSAGES_PER_POLL,
})

/**
 * Long-poll request. `events` are agent frames, each checked on its own (a bad one gets an
 * error reply, the rest still count). `wait` (default true) holds the answer until a command
 * (or terminal traffic) is pending or the server's poll timeout (~25 s) passes; false answers at
 * once. `terminal`: the agent's terminal output and states (sent with wait false).
 */
export const LongPollRequestEnvelope = Type.Object({
  events: Type.Array(Type.Unknown(), { maxItems: MAX_EVENTS_PER_POLL }),
  wait: Type.Optional(Type.Boolean()),
  terminal: Type.Optional(LongPollTerminalMessages),
})
export interface LongPollRequest {
  events: AgentFrame[]
  wait?: boolean
  terminal?: string[]
}

/**
 * Long-poll answer: commands to run (ack them in a later request), replies to the events and,
 * in answers to the waiting request only (one at a time, so they stay in order), terminal
 * input, resizes, acks and closes for the agent.
 */
export const LongPollResponse = Type.Object({
  commands: Type.Array(Command),
  replies: Type.Array(Type.Union([WelcomeFrame, ReceivedFrame, ErrorFrame])),
  terminal: Type.Optional(LongPollTerminalMessages),
})
export interface LongPollResponse {
  commands: Static<typeof Command>[]
  replies: ReplyFrame[]
  terminal?: string[]
}

/**
 * Body of a 401 on either endpoint (and of the WS upgrade refusal): the agent must stop,
 * not retry. A live WebSocket gets the goodbye frame, then close code CLOSE_GOODBYE.
 */
export const UnauthorizedAgentResponse = Type.Object({
  error: Type.Object({ message: Type.String(), type: Type.Literal('unauthorized') }),
  goodbye: GoodbyeFrame,
})
export type UnauthorizedAgentResponse = Static<typeof UnauthorizedAgentResponse>

/** WebSocket close codes the server uses (4000-4999 are application codes). */
export const CLOSE_GOODBYE = 4001
/** A newer connection of the same machine replaced this one; do not fight it. */
export const CLOSE_SUPERSEDED = 4002
/** The server is shutting down; reconnect with backoff. */
export const CLOSE_SERVER_SHUTDOWN = 1001
