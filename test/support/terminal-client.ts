// A terminal's browser side as tests and the benchmark drive it: the WebSocket with the
// session cookie, output decoded into one growing text, acknowledgements like the UI sends
// them, and a wait for some text to appear.
import {
  readOffsetPayload,
  TERMINAL_ACK_EVERY_BYTES,
  type TerminalServerMessage,
  terminalSocketPath,
} from '../../protocol/index.ts'

export interface TerminalClient {
  /** Everything printed since the last reset (a reattach redraws from the scrollback). */
  text(): string
  offset(): number
  messages: TerminalServerMessage[]
  /** Called with every output chunk as it arrives (the benchmark times with it). */
  onOutput?: (bytes: Uint8Array) => void
  type(keys: string): void
  resize(cols: number, rows: number): void
  waitFor(needle: string | RegExp, timeoutMs?: number): Promise<void>
  closed: Promise<{ code: number; reason: string }>
  close(): void
}

export async function openTerminalSocket(
  url: string,
  cookie: string,
  terminalId: string,
  options: { offset?: number; cols?: number; rows?: number } = {},
): Promise<TerminalClient> {
  const query = new URLSearchParams({
    cols: String(options.cols ?? 80),
    rows: String(options.rows ?? 24),
    offset: String(options.offset ?? 0),
  })
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}${terminalSocketPath(terminalId)}?${query}`, {
    headers: { cookie, origin: url },
  } as unknown as string[])
  ws.binaryType = 'arraybuffer'
  const decoder = new TextDecoder()
  let text = ''
  let offset = options.offset ?? 0
  let unacked = 0
  const waiters = new Set<() => void>()
  let resolveClosed!: (v: { code: number; reason: string }) => void
  const closed = new Promise<{ code: number; reason: string }>((r) => {
    resolveClosed = r
  })
  const client: TerminalClient = {
    text: () => text,
    offset: () => offset,
    messages: [],
    type: (keys) => ws.send(new TextEncoder().encode(keys)),
    resize: (cols, rows) => ws.send(JSON.stringify({ type: 'resize', cols, rows })),
    closed,
    close: () => ws.close(),
    waitFor(needle, timeoutMs = 10_000) {
      const has = () => (typeof needle === 'string' ? text.includes(needle) : needle.test(text))
      if (has()) return Promise.resolve()
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`terminal never showed ${needle}; it shows: ${JSON.stringify(text.slice(-500))}`))
        }, timeoutMs)
        const check = () => {
          if (!has()) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      })
    },
  }
  ws.onmessage = (ev) => {
    if (typeof ev.data === 'string') {
      const message = JSON.parse(ev.data) as TerminalServerMessage
      client.messages.push(message)
      if (message.type === 'state' && message.reset_at !== undefined) {
        text = ''
        offset = message.reset_at
      }
    } else {
      const output = readOffsetPayload(new Uint8Array(ev.data as ArrayBuffer))
      if (!output) return
      client.onOutput?.(output.bytes)
      text += decoder.decode(output.bytes, { stream: true })
      offset = output.offset + output.bytes.length
      unacked += output.bytes.length
      if (unacked >= TERMINAL_ACK_EVERY_BYTES) {
        unacked = 0
        ws.send(JSON.stringify({ type: 'ack', offset }))
      }
    }
    for (const check of [...waiters]) check()
  }
  ws.onclose = (ev) => resolveClosed({ code: ev.code, reason: ev.reason })
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve()
    ws.onerror = () => reject(new Error('terminal socket failed to open'))
  })
  return client
}
