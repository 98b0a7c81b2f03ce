// A fake LLM upstream on loopback that speaks the OpenAI, Anthropic and Google wire formats,
// streaming and not, so tests and benchmarks drive the proxy (and real CLIs) without a network.
//
// Usage:
//   const fake = await startFakeLlm({ reply: 'hello', usage: { input: 12, output: 7 } })
//   // point a key's base_url (or a client) at fake.url, e.g. `${fake.url}/v1` for OpenAI
//   fake.requests            // every request: method, path, search, headers, body, json, key, aborted
//   fake.setBehaviour({...}) // change the default answer for later requests
//   fake.queue({...}, {...}) // one-shot answers, used in order before the default (e.g. a tool call, then text)
//   await fake.close()
//
// Routes (matched by path suffix, so `/v1/...` and bare paths both work; the recorded `path` lets
// a test check exactly what arrived):
//   OpenAI:    POST .../chat/completions (stream: SSE chunks, a final usage chunk only when
//              stream_options.include_usage, then [DONE]); GET .../models
//   OpenAI Responses: POST .../responses (stream: response.created ... output_text.delta ...
//              response.completed with usage)
//   Anthropic: POST .../messages (also ?beta=true; stream: message_start, content_block_*,
//              message_delta with usage, message_stop); HEAD on any path answers 200 (CLI probes)
//   Google:    POST .../models/{m}:generateContent and :streamGenerateContent?alt=sse (usageMetadata)
// Behaviour fields (all optional): reply, usage {input, output}, model, chunks (pieces the reply is
// streamed in), chunkDelayMs, delayMs (before answering), stall (never finish; the request's abort
// is recorded), status (answer this HTTP error in the provider's shape), resetAfterChunks (drop the
// connection mid-stream), toolCalls (OpenAI tool_calls reply), forKey (per-key overrides: the
// key is the credential that arrived in Authorization/x-api-key/x-goog-api-key/?key=), echoKey
// (a careless upstream: the credential that arrived comes back in the reply text, in response
// headers and, for models lists, in the body), models (the ids a models list answers, default
// [model]; with `status`, the list is refused the same way). Each streamed event's send time is
// recorded (`sent`), so a test can measure from the moment a token left the upstream.
// Write modes (`writes`): 'batched' puts every event of a stream without chunkDelayMs into one
// write; 'separate' writes each SSE event on its own with a short pause between, as real
// providers do (a proxy that stops reading after a pull that produced nothing hangs there). The
// default comes from FAKE_LLM_WRITES (else 'batched'); streaming tests run under both.

import {
  completeBody,
  type Dialect,
  errorBody,
  type FakeToolCall,
  type FakeUsage,
  type Resolved,
  streamEvents,
} from './fake-llm-wire.ts'

export type { FakeToolCall, FakeUsage }

export interface FakeBehaviour {
  reply?: string
  usage?: FakeUsage
  model?: string
  chunks?: number
  chunkDelayMs?: number
  delayMs?: number
  stall?: boolean
  status?: number
  resetAfterChunks?: number
  toolCalls?: FakeToolCall[]
  forKey?: Record<string, Omit<FakeBehaviour, 'forKey'>>
  echoKey?: boolean
  /** A complete (non-streamed) answer without its usage fields, as some compatible servers send. */
  omitUsage?: boolean
  /** The message of the error body sent with `status` (default: "fake upstream error N"). */
  errorMessage?: string
  /** The model ids a models list answers (default: [model]). */
  models?: string[]
}

export type FakeWrites = 'batched' | 'separate'
export const FAKE_WRITE_MODES: readonly FakeWrites[] = ['batched', 'separate']
/** Pause between events in 'separate' mode: long enough for each to leave in its own packet. */
const SEPARATE_PAUSE_MS = 3

export interface FakeLlmOptions {
  writes?: FakeWrites
}

export interface RecordedRequest {
  method: string
  path: string
  search: string
  headers: Record<string, string>
  body: string
  json: unknown
  /** The credential the request carried, wherever the client put it. */
  key: string | null
  /** Set when the client went away before the answer finished (proxy aborts show up here). */
  aborted: boolean
  /** A streamed answer's events as they were written: epoch ms and the SSE payload. */
  sent: Array<{ at: number; data: string }>
}

export interface FakeLlm {
  url: string
  requests: RecordedRequest[]
  setBehaviour(behaviour: FakeBehaviour): void
  queue(...behaviours: FakeBehaviour[]): void
  /** Resolves once `count` requests have arrived (or rejects after timeoutMs). */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export const FAKE_DEFAULTS = {
  reply: 'Hello from the fake LLM.',
  usage: { input: 11, output: 7 },
  model: 'fake-model',
  chunks: 3,
} as const

/** A careless upstream's headers: the credential in an allowed header and in one of its own. */
function echoHeaders(echo: boolean, key: string | null): Record<string, string> {
  return echo ? { 'x-request-id': `req ${key}`, 'x-upstream-key': `${key}` } : {}
}

/** A models list in the shape of the provider the path belongs to (Google: /v1beta/models). */
function modelsBody(path: string, models: string[], owner: string): unknown {
  if (path.includes('/v1beta/'))
    return { models: models.map((model) => ({ name: `models/${model}`, displayName: owner })) }
  return {
    object: 'list',
    data: models.map((model) => ({
      id: model,
      object: 'model',
      type: 'model',
      display_name: model,
      created: 0,
      owned_by: owner,
    })),
  }
}

/** How long a reset waits so the chunks before it are on the wire first. */
const RESET_DELAY_MS = 30
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const encoder = new TextEncoder()

function credential(req: Request, url: URL): string | null {
  const auth = req.headers.get('authorization')
  if (auth?.toLowerCase().startsWith('bearer ')) return auth.slice(7)
  return req.headers.get('x-api-key') ?? req.headers.get('x-goog-api-key') ?? url.searchParams.get('key')
}

function sseStream(
  events: Array<[string | null, unknown]>,
  b: Resolved,
  record: RecordedRequest,
  signal: AbortSignal,
  writes: FakeWrites,
) {
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      let sent = 0
      for (const [event, data] of events) {
        if (signal.aborted) return
        if (b.resetAfterChunks !== undefined && sent >= b.resetAfterChunks) {
          // Let the chunks already queued reach the client before the connection drops.
          await sleep(RESET_DELAY_MS)
          controller.error(new Error('fake upstream reset the connection'))
          return
        }
        const payload = typeof data === 'string' ? data : JSON.stringify(data)
        controller.enqueue(encoder.encode(`${event ? `event: ${event}\n` : ''}data: ${payload}\n\n`))
        record.sent.push({ at: Date.now(), data: payload })
        sent++
        if (b.chunkDelayMs) await sleep(b.chunkDelayMs)
        else if (writes === 'separate') await sleep(SEPARATE_PAUSE_MS)
      }
      if (b.stall) {
        await new Promise<void>((resolve) =>
          signal.addEventListener('abort', () => resolve(), { once: true }),
        )
        record.aborted = true
        return
      }
      controller.close()
    },
  })
}

export async function startFakeLlm(
  initial: FakeBehaviour = {},
  options: FakeLlmOptions = {},
): Promise<FakeLlm> {
  const writes: FakeWrites =
    options.writes ?? (process.env.FAKE_LLM_WRITES === 'separate' ? 'separate' : 'batched')
  let behaviour: FakeBehaviour = initial
  const queued: FakeBehaviour[] = []
  const requests: RecordedRequest[] = []
  const waiters: Array<() => void> = []

  const resolve = (
    key: string | null,
  ): Resolved &
    Pick<FakeBehaviour, 'models'> & { echoKey: boolean; errorMessage?: string; omitUsage: boolean } => {
    const base = queued.shift() ?? behaviour
    const merged = { ...base, ...(key && base.forKey?.[key]) }
    return {
      echoKey: merged.echoKey ?? false,
      errorMessage: merged.errorMessage,
      omitUsage: merged.omitUsage ?? false,
      ...(merged.models ? { models: merged.models } : {}),
      reply: merged.echoKey ? `Your key is ${key}, keep it safe.` : (merged.reply ?? FAKE_DEFAULTS.reply),
      usage: merged.usage ?? FAKE_DEFAULTS.usage,
      model: merged.model ?? FAKE_DEFAULTS.model,
      chunks: merged.chunks ?? FAKE_DEFAULTS.chunks,
      chunkDelayMs: merged.chunkDelayMs ?? 0,
      delayMs: merged.delayMs ?? 0,
      stall: merged.stall ?? false,
      status: merged.status ?? 200,
      toolCalls: merged.toolCalls,
      resetAfterChunks: merged.resetAfterChunks,
    }
  }

  const server = Bun.serve({
    hostname: '127.0.0.1',
    port: 0,
    idleTimeout: 0,
    async fetch(req) {
      const url = new URL(req.url)
      const bytes = req.method === 'GET' || req.method === 'HEAD' ? new Uint8Array() : await req.bytes()
      const body = new TextDecoder().decode(bytes)
      let json: unknown = null
      try {
        json = body ? JSON.parse(body) : null
      } catch {}
      const record: RecordedRequest = {
        method: req.method,
        path: url.pathname,
        search: url.search,
        headers: Object.fromEntries(req.headers),
        body,
        json,
        key: credential(req, url),
        aborted: false,
        sent: [],
      }
      requests.push(record)
      req.signal.addEventListener('abort', () => {
        record.aborted = true
      })
      for (const w of waiters.splice(0)) w()

      if (req.method === 'HEAD') return new Response(null, { status: 200 })
      const path = url.pathname
      if (req.method === 'GET' && path.endsWith('/models')) {
        const b = resolve(record.key)
        if (b.status !== 200) {
          const dialect = path.includes('/v1beta/')
            ? 'google'
            : req.headers.has('x-api-key')
              ? 'anthropic'
              : 'openai'
          return Response.json(errorBody(dialect, b.status, b.errorMessage), { status: b.status })
        }
        const owner = b.echoKey ? `fake ${record.key}` : 'fake'
        return Response.json(modelsBody(path, b.models ?? [b.model], owner), {
          headers: echoHeaders(b.echoKey, record.key),
        })
      }
      const google = /\/models\/[^/:]+:(generateContent|streamGenerateContent)$/.exec(path)
      const dialect: Dialect | null = google
        ? 'google'
        : path.endsWith('/chat/completions')
          ? 'openai'
          : path.endsWith('/responses')
            ? 'responses'
            : path.endsWith('/messages')
              ? 'anthropic'
              : null
      if (!dialect) {
        // Non-JSON endpoints (uploads, audio): echo what arrived so passthrough can be checked.
        return new Response(bytes, {
          status: 200,
          headers: {
            'content-type': req.headers.get('content-type') ?? 'application/octet-stream',
            'x-fake-echo': '1',
          },
        })
      }
      const b = resolve(record.key)
      if (b.delayMs) await sleep(b.delayMs)
      if (b.status >= 400)
        return Response.json(errorBody(dialect, b.status, b.errorMessage), { status: b.status })
      const fields = (json ?? {}) as Record<string, unknown>
      const streaming = dialect === 'google' ? google![1] === 'streamGenerateContent' : fields.stream === true
      if (b.stall && !streaming) {
        await new Promise<void>((r) => req.signal.addEventListener('abort', () => r(), { once: true }))
        return new Response(null, { status: 499 })
      }
      const echo = echoHeaders(b.echoKey, record.key)
      if (!streaming) {
        const complete = completeBody(dialect, {
          ...b,
          model: (fields.model as string) ?? b.model,
        }) as Record<string, unknown>
        if (b.omitUsage) {
          delete complete.usage
          delete complete.usageMetadata
        }
        return Response.json(complete, { headers: echo })
      }
      const events = streamEvents(dialect, { ...b, model: (fields.model as string) ?? b.model }, fields)
      return new Response(sseStream(events, b, record, req.signal, writes), {
        headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', ...echo },
      })
    },
  })

  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    setBehaviour(next) {
      behaviour = next
    },
    queue(...next) {
      queued.push(...next)
    },
    waitForRequests(count, timeoutMs = 5000) {
      return new Promise((ok, fail) => {
        const timer = setTimeout(
          () => fail(new Error(`fake LLM: ${requests.length}/${count} requests after ${timeoutMs} ms`)),
          timeoutMs,
        )
        const check = () => {
          if (requests.length >= count) {
            clearTimeout(timer)
            ok()
          } else waiters.push(check)
        }
        check()
      })
    },
    async close() {
      await server.stop(true)
    },
  }
}
