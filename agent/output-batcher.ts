// Numbers a session's output records (seq 0, 1, 2... without gaps) and groups them into
// session.output frames, flushed after a short pause or when a batch is full, so a chatty CLI
// costs a few frames per second rather than one per line. Streamed text pieces that arrive in
// the same window are joined into one record, so token streaming costs a few rows per second.
import {
  MAX_OUTPUT_RECORDS_PER_BATCH,
  type OutputEvent,
  type OutputRecord,
  type OutputStream,
} from '../protocol/index.ts'

/** How long records wait for company before they are sent. */
export const OUTPUT_FLUSH_MS = 25
/** A batch is sent early once its data passes this many characters. */
const MAX_BATCH_CHARS = 1024 * 1024

export class OutputBatcher {
  private records: OutputRecord[] = []
  private chars = 0
  private timer: ReturnType<typeof setTimeout> | undefined
  private nextSeq: number

  constructor(
    private readonly sessionId: string,
    private readonly emit: (frame: {
      type: 'session.output'
      session_id: string
      records: OutputRecord[]
    }) => void,
    startSeq = 0,
    /**
     * Called with the next free seq once a batch is in the outbox (journaled to the spool). A
     * restarted agent resumes from the larger of this and the spool's own last seq, so it
     * neither reuses a seq nor leaves a gap.
     */
    private readonly afterEmit?: (nextSeq: number) => void,
  ) {
    this.nextSeq = startSeq
  }

  /** Highest seq handed out so far (-1 before the first record). */
  get lastSeq(): number {
    return this.nextSeq - 1
  }

  add(stream: OutputStream, data: string, event?: OutputEvent): void {
    // Text pieces that arrive within one flush window travel (and are stored) as one record.
    const last = this.records[this.records.length - 1]
    if (
      event?.kind === 'assistant_delta' &&
      !data &&
      last?.event?.kind === 'assistant_delta' &&
      !last.data &&
      last.stream === stream
    ) {
      last.event = { kind: 'assistant_delta', text: last.event.text + event.text }
      this.chars += event.text.length
      return
    }
    this.records.push({
      seq: this.nextSeq++,
      stream,
      data,
      ts: new Date().toISOString(),
      ...(event ? { event } : {}),
    })
    this.chars += data.length
    if (this.records.length >= MAX_OUTPUT_RECORDS_PER_BATCH || this.chars >= MAX_BATCH_CHARS) this.flush()
    else this.timer ??= setTimeout(() => this.flush(), OUTPUT_FLUSH_MS)
  }

  flush(): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.records.length === 0) return
    const records = this.records
    this.records = []
    this.chars = 0
    this.emit({ type: 'session.output', session_id: this.sessionId, records })
    this.afterEmit?.(this.nextSeq)
  }
}
