// Per-agent output rate: a token bucket per machine (AGENT_OUTPUT_RATE_KB_PER_SECOND, with
// AGENT_OUTPUT_BURST_KB of burst). A session.output frame over the rate waits before it is
// stored, and its receipt waits with it; the agent sends only a window of unanswered frames
// (agent/outbox.ts), so a flooding CLI is slowed at its source and nothing acknowledged is lost.
// In memory per instance: an agent holds one connection, so its frames meet one bucket.
import type { AppContext } from '../context/index.ts'

interface Bucket {
  /** Bytes that may pass now; below zero, how far the agent has run ahead. */
  level: number
  at: number
}

export interface OutputPacer {
  /** How long a frame of `bytes` must wait before it is stored (0: at once); takes its share. */
  reserve(machineId: string, bytes: number): number
}

/** A full bucket is forgotten after this long idle (it would be full again anyway). */
const IDLE_FORGET_MS = 60_000
/** The instance's buckets (ctx.state.outputPacer). */
export function createOutputPacer(ctx: AppContext): OutputPacer {
  const rate = ctx.config.agentOutput.rateBytesPerSecond
  const burst = ctx.config.agentOutput.burstBytes
  const buckets = new Map<string, Bucket>()
  const sweep = setInterval(() => {
    const now = performance.now()
    for (const [id, b] of buckets) if (now - b.at > IDLE_FORGET_MS) buckets.delete(id)
  }, IDLE_FORGET_MS)
  sweep.unref?.()
  ctx.onClose(() => clearInterval(sweep))
  const pacer: OutputPacer = {
    reserve(machineId, bytes) {
      const now = performance.now()
      const bucket = buckets.get(machineId) ?? { level: burst, at: now }
      bucket.level = Math.min(burst, bucket.level + ((now - bucket.at) / 1000) * rate) - bytes
      bucket.at = now
      buckets.set(machineId, bucket)
      return bucket.level >= 0 ? 0 : (-bucket.level / rate) * 1000
    },
  }
  return pacer
}

/** The size that counts against the rate: the records' text. */
export function outputFrameBytes(records: ReadonlyArray<{ data: string }>): number {
  let n = 0
  for (const r of records) n += r.data.length
  return n
}
