// The real transport: Bun's WebSocket client and fetch, both sending the agent token as a
// Bearer header. A 401/410 answer becomes an `unauthorized` TransportError with its goodbye.
import {
  AGENT_MESSAGE_PATH,
  AGENT_WS_PATH,
  type GoodbyeFrame,
  type LongPollRequest,
  type LongPollResponse,
  parseServerFrame,
} from '../../protocol/index.ts'
import { type Transport, TransportError, type WsChannel, type WsHandlers } from './transport.ts'

/** Longer than the server's ~25 s hold, so only a dead connection hits it. */
const POLL_TIMEOUT_MS = 60_000
/** How long the WebSocket handshake may take. */
const WS_OPEN_TIMEOUT_MS = 10_000

function unauthorizedFrom(status: number, body: string): TransportError {
  let goodbye: GoodbyeFrame | undefined
  try {
    const parsed = parseServerFrame((JSON.parse(body) as { goodbye?: unknown }).goodbye)
    if (parsed.ok && parsed.value.type === 'goodbye') goodbye = parsed.value
  } catch {
    // A body that is not ours (a proxy's 401 page): still a refusal.
  }
  return new TransportError('unauthorized', goodbye?.message ?? `server answered ${status}`, goodbye)
}

/** A server's Retry-After is honoured up to this many seconds (a bad header cannot park the agent). */
const MAX_RETRY_AFTER_S = 600

export function createHttpTransport(serverUrl: string, token: string): Transport {
  const base = serverUrl.replace(/\/+$/, '')
  const headers = { authorization: `Bearer ${token}` }
  return {
    useToken(next: string) {
      headers.authorization = `Bearer ${next}`
    },
    openWebSocket(handlers: WsHandlers, signal: AbortSignal): Promise<WsChannel> {
      return new Promise((resolve, reject) => {
        // Bun's client accepts headers in the options object; the DOM typing only knows protocols.
        const options = { headers } as unknown as string[]
        const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${AGENT_WS_PATH}`, options)
        ws.binaryType = 'arraybuffer'
        let open = false
        const fail = (why: string) => {
          clearTimeout(timer)
          if (!open) reject(new TransportError('unavailable', why))
        }
        const timer = setTimeout(() => {
          fail('WebSocket handshake timed out')
          ws.close()
        }, WS_OPEN_TIMEOUT_MS)
        const onAbort = () => ws.close(1000, 'agent stopping')
        signal.addEventListener('abort', onAbort, { once: true })
        ws.onopen = () => {
          open = true
          clearTimeout(timer)
          resolve({
            send: (text) => ws.send(text),
            sendBinary: (data) => ws.send(data),
            close: (code, reason) => ws.close(code, reason),
          })
        }
        ws.onmessage = (ev) => {
          if (typeof ev.data === 'string') handlers.onMessage(ev.data)
          else handlers.onBinary?.(new Uint8Array(ev.data as ArrayBuffer))
        }
        ws.onerror = () => fail('WebSocket connection failed')
        ws.onclose = (ev) => {
          signal.removeEventListener('abort', onAbort)
          if (open) handlers.onClose(ev.code, ev.reason)
          else fail(`WebSocket closed before opening (${ev.code})`)
        }
      })
    },

    async poll(request: LongPollRequest, signal: AbortSignal): Promise<LongPollResponse> {
      const timeout = AbortSignal.timeout(POLL_TIMEOUT_MS)
      let res: Response
      try {
        res = await fetch(`${base}${AGENT_MESSAGE_PATH}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify(request),
          signal: AbortSignal.any([signal, timeout]),
        })
      } catch (cause) {
        throw new TransportError('unavailable', `long-poll failed: ${(cause as Error).message}`)
      }
      const body = await res.text().catch(() => '')
      if (res.status === 401 || res.status === 410) throw unauthorizedFrom(res.status, body)
      if (!res.ok) {
        const retryAfter = Number(res.headers.get('retry-after'))
        throw new TransportError(
          'unavailable',
          `long-poll answered ${res.status}`,
          undefined,
          Number.isFinite(retryAfter) && retryAfter > 0
            ? Math.min(retryAfter, MAX_RETRY_AFTER_S) * 1000
            : undefined,
        )
      }
      try {
        const parsed = JSON.parse(body) as Partial<LongPollResponse>
        return {
          commands: parsed.commands ?? [],
          replies: parsed.replies ?? [],
          ...(parsed.terminal?.length ? { terminal: parsed.terminal } : {}),
        }
      } catch {
        throw new TransportError('unavailable', 'long-poll answer is not JSON')
      }
    },
  }
}
