// A session's conversation, built incrementally from its output records and the user's messages:
// user messages (placed after the output they followed), assistant text, thinking, tool calls
// paired with their results, turn results, permission requests with their outcomes, and the
// notice that the oldest output was dropped at the session's limit. Items live in one deeply
// reactive array, so a new record adds or changes one item and the page
// updates only that one: a streamed answer grows in its own bubble (from assistant_delta pieces)
// and is replaced by the complete message when it comes. Records without a structured event are
// raw output only (the terminal pane shows them).
import type { OutputEvent, SessionRecord } from '#lib/api.ts'

type EventOf<K extends OutputEvent['kind']> = Extract<OutputEvent, { kind: K }>

/** A message the user sent; `afterSeq` is the last output seq when it was sent. */
export interface ChatMessage {
  key: string
  text: string
  afterSeq: number
  pending?: boolean
}

/** How a permission request was answered (the server's permission event / outcome). */
export interface PermissionOutcome {
  decision: 'pending' | 'allowed' | 'denied'
  always: boolean
  by: 'user' | 'auto'
}

export type ConversationItem =
  | { kind: 'user'; key: string; text: string; pending?: boolean }
  | { kind: 'assistant'; key: string; text: string; streaming?: boolean }
  | { kind: 'thinking'; key: string; text: string }
  | { kind: 'tool'; key: string; call: EventOf<'tool_use'>; result?: EventOf<'tool_result'> }
  | { kind: 'result'; key: string; event: EventOf<'result'> }
  | {
      kind: 'permission'
      key: string
      event: EventOf<'permission_request'>
      outcome: PermissionOutcome | null
    }
  | { kind: 'dropped'; key: string; event: EventOf<'output_dropped'> }

type ToolItem = Extract<ConversationItem, { kind: 'tool' }>
type PermissionItem = Extract<ConversationItem, { kind: 'permission' }>

/** Events of a complete message: when one comes, the streamed pieces before it are replaced. */
const COMPLETE_MESSAGE_KINDS: ReadonlySet<string> = new Set(['assistant_text', 'thinking', 'tool_use'])

export class Conversation {
  items: ConversationItem[] = $state([])
  /** Bumped when the person sends a message: the view goes to the bottom to show it. */
  sent = $state(0)
  #lastSeq = -1
  #tools = new Map<string, ToolItem>()
  #permissions = new Map<string, PermissionItem>()
  #outcomes = new Map<string, PermissionOutcome>()
  #waiting: ChatMessage[] = []

  get lastSeq(): number {
    return this.#lastSeq
  }

  /** Starts over from a loaded session: its records, messages and answered permissions. */
  load(
    records: SessionRecord[],
    messages: ChatMessage[],
    outcomes: Array<{ request_id: string } & PermissionOutcome>,
  ) {
    this.items = []
    this.#lastSeq = -1
    this.#tools.clear()
    this.#permissions.clear()
    this.#outcomes = new Map(outcomes.map((o) => [o.request_id, o]))
    this.#waiting = [...messages].sort((a, b) => a.afterSeq - b.afterSeq)
    for (const record of [...records].sort((a, b) => a.seq - b.seq)) this.add(record)
    this.#placeMessagesBefore(Number.POSITIVE_INFINITY)
  }

  /** A live record; one seen already (or older than the newest) changes nothing. */
  add(record: SessionRecord): boolean {
    if (record.seq <= this.#lastSeq) return false
    this.#lastSeq = record.seq
    this.#placeMessagesBefore(record.seq)
    const event = record.event
    if (event) this.#apply(`r${record.seq}`, event)
    return true
  }

  /** A message the user just sent: shown at once, below everything so far. */
  send(message: ChatMessage): void {
    this.items.push({ kind: 'user', key: message.key, text: message.text, pending: message.pending })
    this.sent++
  }

  /** The server took the message (it stays where it is), or refused it (it goes). */
  settle(key: string, accepted: boolean): void {
    const index = this.items.findIndex((i) => i.kind === 'user' && i.key === key)
    const item = this.items[index]
    if (item?.kind !== 'user') return
    if (accepted) item.pending = false
    else this.items.splice(index, 1)
  }

  answered(requestId: string, outcome: PermissionOutcome): void {
    this.#outcomes.set(requestId, outcome)
    const item = this.#permissions.get(requestId)
    if (item) item.outcome = outcome
  }

  /** The first permission request still waiting for the person. */
  get pendingPermission(): PermissionItem | undefined {
    return this.items.find((i): i is PermissionItem => i.kind === 'permission' && i.outcome === null)
  }

  #placeMessagesBefore(seq: number) {
    while (this.#waiting.length > 0 && this.#waiting[0]!.afterSeq < seq) {
      const message = this.#waiting.shift()!
      this.items.push({ kind: 'user', key: message.key, text: message.text, pending: message.pending })
    }
  }

  #apply(key: string, event: OutputEvent) {
    const last = this.items[this.items.length - 1]
    const streaming = last?.kind === 'assistant' && last.streaming ? last : undefined
    if (streaming && COMPLETE_MESSAGE_KINDS.has(event.kind)) this.items.pop()
    switch (event.kind) {
      case 'assistant_delta':
        if (streaming) streaming.text += event.text
        else this.items.push({ kind: 'assistant', key, text: event.text, streaming: true })
        break
      case 'assistant_text': {
        // Adapters without partial messages may send text in pieces: consecutive ones are one message.
        const previous = this.items[this.items.length - 1]
        if (previous?.kind === 'assistant' && !previous.streaming) previous.text += event.text
        else this.items.push({ kind: 'assistant', key, text: event.text })
        break
      }
      case 'thinking':
        this.items.push({ kind: 'thinking', key, text: event.text })
        break
      case 'tool_use':
        this.items.push({ kind: 'tool', key, call: event })
        this.#tools.set(event.tool_use_id, this.items[this.items.length - 1] as ToolItem)
        break
      case 'tool_result': {
        const call = this.#tools.get(event.tool_use_id)
        if (call) call.result = event
        else {
          const call = { kind: 'tool_use' as const, tool_use_id: event.tool_use_id, name: '?', input: null }
          this.items.push({ kind: 'tool', key, call, result: event })
        }
        break
      }
      case 'result':
        // A turn that ended before its complete message (interrupted) keeps what was streamed.
        if (streaming) streaming.streaming = false
        this.items.push({ kind: 'result', key, event })
        break
      case 'permission_request':
        this.items.push({
          kind: 'permission',
          key,
          event,
          outcome: this.#outcomes.get(event.request_id) ?? null,
        })
        this.#permissions.set(event.request_id, this.items[this.items.length - 1] as PermissionItem)
        break
      case 'output_dropped':
        this.items.push({ kind: 'dropped', key, event })
        break
    }
  }
}

/** Adds records not seen yet (by seq), keeping seq order. */
export function mergeRecords(existing: SessionRecord[], incoming: SessionRecord[]): SessionRecord[] {
  const seen = new Set(existing.map((r) => r.seq))
  const added = incoming.filter((r) => !seen.has(r.seq))
  if (added.length === 0) return existing
  return [...existing, ...added].sort((a, b) => a.seq - b.seq)
}
