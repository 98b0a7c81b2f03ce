// Terminal traffic for agents on long-poll: what the relay would write to an agent WebSocket
// waits here, per machine on this instance, for the agent's waiting request, which is answered
// at once. In memory and not durable, as on a WebSocket. The queue is small by nature (the
// agent's output window bounds acks, keystrokes come at typing speed); a paste beyond the cap is
// refused in the log rather than grow it without bound.
import { TERMINAL_POLL_BATCH_BYTES } from '../../protocol/index.ts'

/** Most terminal bytes queued for one machine's agent. */
export const POLL_TERMINAL_QUEUE_BYTES = 4 * 1024 * 1024
/** A machine counts as reachable over long-poll here this long after its last request ended. */
export const POLL_CHANNEL_GRACE_MS = 5000

interface Queue {
  messages: Uint8Array[]
  bytes: number
  /** When a request of the machine last arrived or ended here. */
  seenAt: number
}

export class PollTerminalQueues {
  private readonly queues = new Map<string, Queue>()

  constructor(private readonly now: () => number) {}

  /** A long-poll request of the machine arrived or ended; true when its channel is new here. */
  seen(machineId: string): boolean {
    const queue = this.queues.get(machineId)
    const now = this.now()
    if (queue && now - queue.seenAt <= POLL_CHANNEL_GRACE_MS) {
      queue.seenAt = now
      return false
    }
    this.queues.set(machineId, { messages: [], bytes: 0, seenAt: now })
    return true
  }

  /** A request of the machine starts or stops waiting here: its channel is alive (not new). */
  touch(machineId: string): void {
    const queue = this.queues.get(machineId)
    if (queue) queue.seenAt = this.now()
  }

  /** Reachable: a request is waiting here, or one was here within the grace. */
  reachable(machineId: string, waiting: boolean): boolean {
    const queue = this.queues.get(machineId)
    return queue !== undefined && (waiting || this.now() - queue.seenAt <= POLL_CHANNEL_GRACE_MS)
  }

  /** Queues a message; false when the queue is full (the message is dropped). */
  push(machineId: string, data: Uint8Array): boolean {
    const queue = this.queues.get(machineId)
    if (!queue) return false
    if (queue.bytes + data.length > POLL_TERMINAL_QUEUE_BYTES) return false
    queue.messages.push(data)
    queue.bytes += data.length
    return true
  }

  pending(machineId: string): boolean {
    return (this.queues.get(machineId)?.messages.length ?? 0) > 0
  }

  /** The next batch in order: up to TERMINAL_POLL_BATCH_BYTES (at least one message) and the item cap. */
  take(machineId: string, maxItems: number): Uint8Array[] {
    const queue = this.queues.get(machineId)
    if (!queue?.messages.length) return []
    let bytes = 0
    let count = 0
    for (const m of queue.messages) {
      if (count >= maxItems || (count > 0 && bytes + m.length > TERMINAL_POLL_BATCH_BYTES)) break
      bytes += m.length
      count++
    }
    queue.bytes -= bytes
    return queue.messages.splice(0, count)
  }

  /** The machine moved to a WebSocket here (or its long-poll ended for good). */
  drop(machineId: string): void {
    this.queues.delete(machineId)
  }
}
