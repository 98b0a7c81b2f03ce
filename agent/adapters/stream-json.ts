// Reading and writing the stream-json dialect Claude Code and Qwen Code share: one JSON object
// per line (system/init, assistant, user tool results, result, control_request/response, and
// with --include-partial-messages stream_event lines carrying the model's text as it arrives).
import type { OutputEvent, TokenUsage } from '../../protocol/index.ts'
import type { ParsedLine } from './types.ts'

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const int = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.round(v) : 0)

/** Maps the CLI's usage object (Anthropic field names in both CLIs) to ours. */
export function readUsage(usage: unknown): TokenUsage | undefined {
  if (!isObject(usage)) return undefined
  const out: TokenUsage = { input_tokens: int(usage.input_tokens), output_tokens: int(usage.output_tokens) }
  if (usage.cache_read_input_tokens !== undefined) out.cache_read_tokens = int(usage.cache_read_input_tokens)
  if (usage.cache_creation_input_tokens !== undefined) {
    out.cache_write_tokens = int(usage.cache_creation_input_tokens)
  }
  return out
}

function toolResultText(content: unknown): string {
  if (typeof content === 'string') return content
  if (Array.isArray(content)) {
    return content
      .map((c) => (isObject(c) && typeof c.text === 'string' ? c.text : JSON.stringify(c)))
      .join('\n')
  }
  return JSON.stringify(content ?? '')
}

/** Events in a message's content; a `user` line only contributes tool results (its text is ours or the CLI's own notes). */
function contentEvents(message: unknown, fromUser: boolean): OutputEvent[] {
  if (!isObject(message) || !Array.isArray(message.content)) return []
  const events: OutputEvent[] = []
  for (const block of message.content) {
    if (!isObject(block)) continue
    if (fromUser && block.type !== 'tool_result') continue
    if (block.type === 'text' && typeof block.text === 'string') {
      events.push({ kind: 'assistant_text', text: block.text })
    } else if (block.type === 'thinking' && typeof block.thinking === 'string') {
      events.push({ kind: 'thinking', text: block.thinking })
    } else if (block.type === 'tool_use') {
      events.push({
        kind: 'tool_use',
        tool_use_id: String(block.id ?? ''),
        name: String(block.name ?? ''),
        input: block.input,
      })
    } else if (block.type === 'tool_result') {
      events.push({
        kind: 'tool_result',
        tool_use_id: String(block.tool_use_id ?? ''),
        output: toolResultText(block.content),
        ...(typeof block.is_error === 'boolean' ? { is_error: block.is_error } : {}),
      })
    }
  }
  return events
}

/**
 * The text piece of a partial-message line (Anthropic's content_block_delta/text_delta, which
 * both CLIs copy); pieces of a sub-agent's messages (parent_tool_use_id set) are left out.
 */
function partialText(line: Json): OutputEvent[] {
  const event = line.event
  if (!isObject(event) || event.type !== 'content_block_delta' || line.parent_tool_use_id) return []
  const delta = event.delta
  if (!isObject(delta) || delta.type !== 'text_delta' || typeof delta.text !== 'string' || !delta.text)
    return []
  return [{ kind: 'assistant_delta', text: delta.text }]
}

/** Parses one stream-json line; `usage` is whatever the result line carried (CLI-specific meaning). */
export function parseStreamJsonLine(text: string): ParsedLine & { resultUsage?: TokenUsage } {
  let line: unknown
  try {
    line = JSON.parse(text)
  } catch {
    return { events: [] }
  }
  if (!isObject(line)) return { events: [] }
  const cliSessionId = typeof line.session_id === 'string' ? line.session_id : undefined
  const base = cliSessionId ? { cliSessionId } : {}
  switch (line.type) {
    case 'assistant':
    case 'user':
      return { ...base, events: contentEvents(line.message, line.type === 'user') }
    case 'result': {
      const resultUsage = readUsage(line.usage)
      const event: OutputEvent = {
        kind: 'result',
        is_error: line.is_error === true,
        ...(typeof line.result === 'string' ? { text: line.result } : {}),
        ...(typeof line.duration_ms === 'number' && line.duration_ms >= 0
          ? { duration_ms: line.duration_ms }
          : {}),
        ...(cliSessionId ? { cli_session_id: cliSessionId } : {}),
      }
      return { ...base, events: [event], ...(resultUsage ? { resultUsage } : {}) }
    }
    case 'stream_event':
      return { ...base, events: partialText(line), transient: true }
    case 'control_request': {
      const request = line.request
      if (!isObject(request) || request.subtype !== 'can_use_tool' || typeof line.request_id !== 'string') {
        return { events: [] }
      }
      return {
        events: [
          {
            kind: 'permission_request',
            request_id: line.request_id,
            tool_name: String(request.tool_name ?? ''),
            input: request.input,
            ...(typeof request.description === 'string' ? { description: request.description } : {}),
          },
        ],
      }
    }
    default:
      return { ...base, events: [] }
  }
}

let controlCounter = 0
const controlId = (kind: string) => `openace-${kind}-${++controlCounter}`

export const streamJson = {
  userMessage: (text: string) => JSON.stringify({ type: 'user', message: { role: 'user', content: text } }),
  initialize: () =>
    JSON.stringify({
      type: 'control_request',
      request_id: controlId('init'),
      request: { subtype: 'initialize' },
    }),
  interrupt: () =>
    JSON.stringify({
      type: 'control_request',
      request_id: controlId('interrupt'),
      request: { subtype: 'interrupt' },
    }),
  permissionAnswer: (requestId: string, allow: boolean, input: unknown) =>
    JSON.stringify({
      type: 'control_response',
      response: {
        subtype: 'success',
        request_id: requestId,
        response: allow
          ? { behavior: 'allow', updatedInput: input ?? {} }
          : { behavior: 'deny', message: 'The user denied this tool call' },
      },
    }),
}
