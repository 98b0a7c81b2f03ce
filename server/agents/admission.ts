// Agent admission control: at the open-file limit a Bun server spins in accept() and stops
// answering even admin requests, so agent channels are capped below it (limit minus a reserve
// for the database, browsers and files). Beyond the cap, upgrades and long-polls get 503 +
// Retry-After (jittered, so refused agents do not return in one wave). Counted per machine: a
// machine already holding a slot (reconnecting, or posting while its poll waits) always gets in.
import { readFileSync } from 'node:fs'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'

export type AdmissionTransport = 'websocket' | 'long_poll'

/** A WebSocket slot taken before the upgrade is given back if the socket never opens. */
const UPGRADE_CONFIRM_MS = 10_000
/** Retry-After is the configured base plus up to this fraction of it, at random. */
const RETRY_JITTER = 0.5

export interface AdmissionSlot {
  /** The WebSocket opened: the slot now lives until release(). */
  confirm(): void
  /** Idempotent. */
  release(): void
}

export interface AgentAdmission {
  cap: number
  /** Machines holding a slot. */
  current(): number
  /** Takes a slot for the machine or throws 503 with Retry-After. */
  admit(machineId: string, transport: AdmissionTransport): AdmissionSlot
}

/** The soft "Max open files" limit from /proc/self/limits; null where unreadable or unlimited. */
export function readOpenFilesLimit(path = '/proc/self/limits'): number | null {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return null
  }
  const match = /^Max open files\s+(\d+|unlimited)\s/m.exec(text)
  return match && match[1] !== 'unlimited' ? Number(match[1]) : null
}

export function admissionCap(ctx: AppContext, limit: number | null): number {
  const { maxConnections, fdReserve, openFilesLimitFallback } = ctx.config.agentAdmission
  if (maxConnections) return maxConnections
  return Math.max(1, (limit ?? openFilesLimitFallback) - fdReserve)
}

/** The instance's admission control (ctx.state.agentAdmission). */
export function createAgentAdmission(ctx: AppContext): AgentAdmission {
  const limit = readOpenFilesLimit()
  const cap = admissionCap(ctx, limit)
  const { retryAfterSeconds } = ctx.config.agentAdmission
  const holders = new Map<string, Record<AdmissionTransport, number>>()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const metrics = ctx.state.metrics
  metrics.agentConnectionCap.set(cap)

  const publish = () => {
    let websocket = 0
    let longPoll = 0
    for (const h of holders.values()) {
      if (h.websocket) websocket++
      if (h.long_poll) longPoll++
    }
    metrics.agentConnections.set(websocket, { transport: 'websocket' })
    metrics.agentConnections.set(longPoll, { transport: 'long_poll' })
    metrics.agentConnectionsCurrent.set(holders.size)
  }
  publish()

  const admission: AgentAdmission = {
    cap,
    current: () => holders.size,
    admit(machineId, transport) {
      let holder = holders.get(machineId)
      if (!holder) {
        if (holders.size >= cap) {
          metrics.admissionRejections.inc({ transport })
          const retryAfter = Math.ceil(retryAfterSeconds * (1 + Math.random() * RETRY_JITTER))
          throw new HttpError(
            503,
            `This server is at its agent connection limit (${cap}); retry after ${retryAfter} s`,
            'over_capacity',
            undefined,
            { 'retry-after': String(retryAfter) },
          )
        }
        holder = { websocket: 0, long_poll: 0 }
        holders.set(machineId, holder)
      }
      holder[transport]++
      publish()
      let released = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const slot: AdmissionSlot = {
        confirm() {
          if (timer) clearTimeout(timer)
          timers.delete(timer!)
        },
        release() {
          if (released) return
          released = true
          slot.confirm()
          const h = holders.get(machineId)
          if (!h) return
          h[transport]--
          if (!h.websocket && !h.long_poll) holders.delete(machineId)
          publish()
        },
      }
      if (transport === 'websocket') {
        timer = setTimeout(() => slot.release(), UPGRADE_CONFIRM_MS)
        timers.add(timer)
      }
      return slot
    },
  }
  ctx.onClose(() => {
    for (const timer of timers) clearTimeout(timer)
  })
  ctx.log.info('agent admission cap', {
    cap,
    open_files_limit: limit ?? undefined,
    reserve: ctx.config.agentAdmission.fdReserve,
  })
  return admission
}
