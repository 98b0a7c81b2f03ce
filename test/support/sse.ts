// An incremental Server-Sent Events parser for tests (the browser's EventSource does this in
// the UI). Follows the WHATWG rules: fields id/event/data/retry, comments, CR/LF/CRLF endings.

export interface SseEvent {
  id: string | undefined
  event: string
  data: string
}

export class SseParser {
  private buffer = ''
  private data: string[] = []
  private event = ''
  private id: string | undefined
  lastEventId: string | undefined
  retry: number | undefined

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    this.buffer += chunk
    const out: SseEvent[] = []
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer)
      if (!match) break
      // A lone CR at the end may be the first half of CRLF: wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break
      const line = this.buffer.slice(0, match.index)
      this.buffer = this.buffer.slice(match.index + match[0].length)
      const done = this.line(line)
      if (done) out.push(done)
    }
    return out
  }

  private line(line: string): SseEvent | undefined {
    if (line === '') {
      if (this.data.length === 0) {
        this.event = ''
        return undefined
      }
      const ev = { id: this.id, event: this.event || 'message', data: this.data.join('\n') }
      this.lastEventId = this.id
      this.data = []
      this.event = ''
      return ev
    }
    if (line.startsWith(':')) return undefined
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') this.data.push(value)
    else if (field === 'event') this.event = value
    else if (field === 'id' && !value.includes('\0')) this.id = value
    else if (field === 'retry' && /^\d+$/.test(value)) this.retry = Number(value)
    return undefined
  }
}

/** Reads an SSE response until `until` says stop or the timeout passes; returns what came. */
export async function readSse(
  res: Response,
  until: (events: SseEvent[]) => boolean,
  timeoutMs = 10_000,
): Promise<SseEvent[]> {
  const parser = new SseParser()
  const events: SseEvent[] = []
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader()
  const timer = setTimeout(() => void reader.cancel(), timeoutMs)
  try {
    while (!until(events)) {
      const { value, done } = await reader.read()
      if (done) break
      events.push(...parser.push(value))
    }
  } finally {
    clearTimeout(timer)
    await reader.cancel().catch(() => {})
  }
  return events
}
