// Counts tokens from the provider's own usage fields while the answer streams through, without
// holding it back: SSE lines and JSON bodies are scanned from a copy of each chunk. The one
// exception is an OpenAI stream where the proxy itself asked for the usage chunk: there, events
// are forwarded whole so that chunk can be dropped before the client sees it.
import { Buffer } from 'node:buffer'
import type { LlmProvider } from '../db/schema/index.ts'

/** A JSON (non-SSE) body larger than this is forwarded but not scanned for usage. */
const MAX_SCANNED_JSON_CHARS = 8 * 1024 * 1024

export interface UsageCount {
  model: string | null
  inputTokens: number
  outputTokens: number
}

type Json = Record<string, unknown>
const num = (v: unknown) => (typeof v === 'number' && Number.isFinite(v) ? v : 0)

/** Folds one parsed event or body into the count (later events override earlier totals). */
export function applyUsage(provider: LlmProvider, obj: Json, count: UsageCount): void {
  if (provider === 'google') {
    const u = obj.usageMetadata as Json | undefined
    if (u) {
      count.inputTokens = num(u.promptTokenCount)
      count.outputTokens = num(u.candidatesTokenCount) + num(u.thoughtsTokenCount)
    }
    if (typeof obj.modelVersion === 'string') count.model = obj.modelVersion
    return
  }
  if (provider === 'anthropic') {
    const message = obj.message as Json | undefined
    const u = (message?.usage ?? obj.usage) as Json | undefined
    if (typeof message?.model === 'string') count.model = message.model
    else if (typeof obj.model === 'string') count.model = obj.model
    if (!u) return
    if (u.input_tokens != null)
      count.inputTokens =
        num(u.input_tokens) + num(u.cache_creation_input_tokens) + num(u.cache_read_input_tokens)
    if (u.output_tokens != null) count.outputTokens = num(u.output_tokens)
    return
  }
  const response = obj.response as Json | undefined
  const u = (obj.usage ?? response?.usage) as Json | undefined | null
  if (typeof obj.model === 'string') count.model = obj.model
  if (!u) return
  count.inputTokens = num(u.prompt_tokens ?? u.input_tokens)
  count.outputTokens = num(u.completion_tokens ?? u.output_tokens)
}

function parse(text: string): Json | Json[] | null {
  try {
    return JSON.parse(text) as Json | Json[]
  } catch {
    return null
  }
}

/** True for the chunk OpenAI sends only because stream_options.include_usage was set. */
function isUsageOnlyChunk(obj: Json): boolean {
  return Array.isArray(obj.choices) && obj.choices.length === 0 && obj.usage != null
}

export interface Meter {
  /** Takes an upstream chunk and returns what the client should get now (null: nothing yet). */
  push(chunk: Uint8Array): Uint8Array | null
  /** End of the upstream body: returns any held-back tail. */
  finish(): Uint8Array | null
  count: UsageCount
  /** Bytes of the answer so far (for an estimate when it carries no usage). */
  bytes: number
  /** The stream's own end marker went by ([DONE], message_stop, response.completed): a client
   * that stops reading after it got the whole answer, not an abandoned one. */
  complete: boolean
}

/** The last event of a streamed answer, per wire format (Google streams just end). */
const END_MARKERS = ['data: [DONE]', 'message_stop', 'response.completed']
const hasEndMarker = (text: string) => END_MARKERS.some((m) => text.includes(m))
const END_MARKER_BYTES = END_MARKERS.map((m) => Buffer.from(m))
/** What every usage field name contains (usage, usageMetadata): a chunk without it has none. */
const USAGE_BYTES = Buffer.from('sage')
const NEWLINE = 0x0a
const indexOf = (data: Uint8Array, value: Uint8Array): number => Buffer.prototype.indexOf.call(data, value)

export function createMeter(
  provider: LlmProvider,
  options: { sse: boolean; stripUsageChunk: boolean; model: string | null },
): Meter {
  const count: UsageCount = { model: options.model, inputTokens: 0, outputTokens: 0 }
  const decoder = new TextDecoder()
  const encoder = new TextEncoder()
  let buffer = ''
  let overflow = false

  const scanLine = (line: string) => {
    if (!line.startsWith('data:') || !line.includes('sage')) return
    const obj = parse(line.slice(5).trim())
    if (obj && !Array.isArray(obj)) applyUsage(provider, obj, count)
  }

  /** Scans complete lines, keeps the partial tail; returns nothing (pass-through mode). */
  const scanSse = (text: string) => {
    buffer += text
    const end = buffer.lastIndexOf('\n')
    if (end < 0) return
    for (const line of buffer.slice(0, end).split('\n')) scanLine(line.trimEnd())
    buffer = buffer.slice(end + 1)
  }

  /** Forwards whole events only, dropping the usage-only chunk the proxy asked for. */
  const filterSse = (text: string, final: boolean): Uint8Array | null => {
    buffer += text.replaceAll('\r\n', '\n')
    const end = final ? buffer.length : buffer.lastIndexOf('\n\n') + 2
    if (end < 2 && !final) return null
    const kept: string[] = []
    for (const event of buffer.slice(0, end).split('\n\n')) {
      if (!event) continue
      const data = event.split('\n').find((l) => l.startsWith('data:'))
      const obj = data?.includes('sage') ? parse(data.slice(5).trim()) : null
      if (obj && !Array.isArray(obj)) {
        applyUsage(provider, obj, count)
        if (isUsageOnlyChunk(obj)) continue
      }
      kept.push(`${event}\n\n`)
    }
    buffer = buffer.slice(end)
    return kept.length ? encoder.encode(kept.join('')) : null
  }

  const meter: Meter = {
    count,
    complete: false,
    bytes: 0,
    push(chunk) {
      meter.bytes += chunk.byteLength
      // Nearly every SSE chunk is whole events without usage in them: when nothing is held back
      // (so the decoder holds no partial character either) and the chunk ends at a line end,
      // such a chunk goes on without being decoded or split.
      if (
        options.sse &&
        !buffer &&
        chunk[chunk.byteLength - 1] === NEWLINE &&
        (!options.stripUsageChunk || chunk[chunk.byteLength - 2] === NEWLINE) &&
        indexOf(chunk, USAGE_BYTES) < 0
      ) {
        if (!meter.complete && END_MARKER_BYTES.some((m) => indexOf(chunk, m) >= 0)) meter.complete = true
        return chunk
      }
      const text = decoder.decode(chunk, { stream: true })
      // Only at a line end: every line before the marker (usage included) has been scanned.
      if (options.sse && !meter.complete && text.endsWith('\n') && hasEndMarker(text)) meter.complete = true
      if (options.sse && options.stripUsageChunk) {
        // Whole events without usage in them (nearly every chunk) go on as they came.
        if (!buffer && text.endsWith('\n\n') && !text.includes('sage')) return chunk
        return filterSse(text, false)
      }
      if (options.sse) scanSse(text)
      else if (!overflow) {
        buffer += text
        if (buffer.length > MAX_SCANNED_JSON_CHARS) {
          overflow = true
          buffer = ''
        }
      }
      return chunk
    },
    finish() {
      const text = decoder.decode()
      if (options.sse && options.stripUsageChunk) return filterSse(text, true)
      if (options.sse) {
        scanSse(`${text}\n`)
        return null
      }
      if (!overflow) {
        const body = parse(buffer + text)
        for (const obj of Array.isArray(body) ? body : body ? [body] : []) applyUsage(provider, obj, count)
      }
      buffer = ''
      return null
    },
  }
  return meter
}
