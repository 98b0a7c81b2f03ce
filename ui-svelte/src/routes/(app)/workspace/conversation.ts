// Turns a session's output records and the user's messages into conversation items: user
// messages (placed after the output they followed), assistant text, thinking, tool calls paired
// with their results, turn results and permission requests. Records without a structured event
// are raw output only (the terminal pane shows them).
import type { OutputEvent, SessionRecord } from '#lib/api.ts'

type EventOf<K extends OutputEvent['kind']> = Extract<OutputEvent, { kind: K }>

/** A message the user sent; `afterSeq` is the last output seq when it was sent. */
export interface ChatMessage {
  key: string
  text: string
  afterSeq: number
  pending?: boolean
}

export type ConversationItem =
  | { kind: 'user'; key: string; text: string; pending?: boolean }
  | { kind: 'assistant'; key: string; text: string }
  | { kind: 'thinking'; key: string; text: string }
  | { kind: 'tool'; key: string; call: EventOf<'tool_use'>; result?: EventOf<'tool_result'> }
  | { kind: 'result'; key: string; event: EventOf<'result'> }
  | { kind: 'permission'; key: string; event: EventOf<'permission_request'>; open: boolean }

export function buildConversation(
  records: SessionRecord[],
  messages: ChatMessage[],
  openPermissions: ReadonlySet<string>,
): ConversationItem[] {
  const items: ConversationItem[] = []
  const tools = new Map<string, Extract<ConversationItem, { kind: 'tool' }>>()
  const queue = [...messages].sort((a, b) => a.afterSeq - b.afterSeq)
  const flushMessagesBefore = (seq: number) => {
    while (queue.length > 0 && queue[0]!.afterSeq < seq) {
      const message = queue.shift()!
      items.push({ kind: 'user', key: message.key, text: message.text, pending: message.pending })
    }
  }
  for (const record of records) {
    flushMessagesBefore(record.seq)
    const event = record.event
    if (!event) continue
    const key = `r${record.seq}`
    switch (event.kind) {
      case 'assistant_text': {
        // Streaming adapters send text in pieces: consecutive pieces form one message.
        const last = items[items.length - 1]
        if (last?.kind === 'assistant') last.text += event.text
        else items.push({ kind: 'assistant', key, text: event.text })
        break
      }
      case 'thinking':
        items.push({ kind: 'thinking', key, text: event.text })
        break
      case 'tool_use': {
        const item = { kind: 'tool' as const, key, call: event }
        tools.set(event.tool_use_id, item)
        items.push(item)
        break
      }
      case 'tool_result': {
        const call = tools.get(event.tool_use_id)
        if (call) call.result = event
        else {
          const call = { kind: 'tool_use' as const, tool_use_id: event.tool_use_id, name: '?', input: null }
          items.push({ kind: 'tool', key, call, result: event })
        }
        break
      }
      case 'result':
        items.push({ kind: 'result', key, event })
        break
      case 'permission_request':
        items.push({ kind: 'permission', key, event, open: openPermissions.has(event.request_id) })
        break
    }
  }
  flushMessagesBefore(Number.POSITIVE_INFINITY)
  return items
}

/** Adds records not seen yet (by seq), keeping seq order. */
export function mergeRecords(existing: SessionRecord[], incoming: SessionRecord[]): SessionRecord[] {
  const seen = new Set(existing.map((r) => r.seq))
  const added = incoming.filter((r) => !seen.has(r.seq))
  if (added.length === 0) return existing
  return [...existing, ...added].sort((a, b) => a.seq - b.seq)
}
