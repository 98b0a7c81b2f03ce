// The proxy's usage ledger (quota_usage): a row per proxied request, buffered in memory and
// written in batches after the response, so counting never slows a stream. Identical requests
// (same user, session, provider, model, key and status) within one flush interval share a row
// whose `requests` counts them, which keeps the write cost flat under heavy load. Pending rows
// are visible to the quota check of this instance until they land in the database.
import { touchApiKeys } from '../api-keys/service.ts'
import type { AppContext } from '../context/index.ts'
import { type LlmProvider, quotaUsage } from '../db/schema/index.ts'
import { publishLive } from '../live/bus.ts'

/** Rows wait at most this long before being written. */
const FLUSH_INTERVAL_MS = 200
/** A batch with this many rows is written at once. */
const FLUSH_BATCH_ROWS = 500

export interface UsageRecord {
  ts: Date
  userId: number
  tenantId: number
  sessionId: string | null
  machineId: string | null
  provider: LlmProvider
  model: string | null
  apiKeyId: number | null
  inputTokens: number
  outputTokens: number
  /** Requests this row stands for; tokens and latency are their sums. */
  requests: number
  latencyMs: number
  status: number
  /** The tokens are the proxy's estimate (the answer had no usage fields). */
  estimated?: boolean
}

/** Usage recorded on this instance, not yet written (ctx.state.usageLedger). */
export interface Ledger {
  pending: Map<string, UsageRecord>
  /** Batches being written: still counted by the quota check until they are in the database. */
  writing: Set<UsageRecord[]>
  timer: ReturnType<typeof setTimeout> | null
  flushing: Promise<void>
}

export function createLedger(ctx: AppContext): Ledger {
  ctx.onClose(() => flushUsage(ctx))
  return { pending: new Map(), writing: new Set(), timer: null, flushing: Promise.resolve() }
}

/** Queues one request's usage; never throws, never waits. */
export function recordUsage(ctx: AppContext, record: UsageRecord): void {
  const l = ctx.state.usageLedger
  const key = `${record.userId}|${record.sessionId}|${record.provider}|${record.model}|${record.apiKeyId}|${record.status}|${record.estimated === true}`
  const row = l.pending.get(key)
  if (row) {
    row.inputTokens += record.inputTokens
    row.outputTokens += record.outputTokens
    row.requests += record.requests
    row.latencyMs += record.latencyMs
  } else l.pending.set(key, { ...record })
  if (l.pending.size >= FLUSH_BATCH_ROWS) void flushUsage(ctx)
  else l.timer ??= setTimeout(() => void flushUsage(ctx), FLUSH_INTERVAL_MS)
}

/** Rows recorded here but not yet in the database, for the quota check. */
export function unwrittenUsage(ctx: AppContext): UsageRecord[] {
  const l = ctx.peek('usageLedger')
  return l ? [...l.pending.values(), ...[...l.writing].flat()] : []
}

/** Writes everything pending; resolves when this and every earlier batch is in the database. */
export function flushUsage(ctx: AppContext): Promise<void> {
  const l = ctx.peek('usageLedger')
  if (!l) return Promise.resolve()
  if (l.timer) clearTimeout(l.timer)
  l.timer = null
  const batch = [...l.pending.values()]
  if (!batch.length) return l.flushing
  l.pending = new Map()
  l.writing.add(batch)
  l.flushing = l.flushing.then(async () => {
    try {
      await ctx.db.insert(quotaUsage).values(batch)
      const keyIds = [...new Set(batch.map((r) => r.apiKeyId).filter((id): id is number => id !== null))]
      await touchApiKeys(ctx, keyIds, batch[batch.length - 1]!.ts)
      await publishLive(ctx, {
        topic: 'usage',
        user_ids: [...new Set(batch.map((r) => r.userId))],
        api_key_ids: keyIds,
      })
    } catch (cause) {
      ctx.log.error('usage ledger write failed', { rows: batch.length, error: cause })
    } finally {
      l.writing.delete(batch)
    }
  })
  return l.flushing
}
