// Presence: a machine is online while its WebSocket is open or long-polls keep coming. It goes
// offline after 3 missed heartbeat intervals (a sweeper on every instance), or once a closed
// socket has not come back within the grace period. Heartbeats are buffered per instance and
// written in one multi-row UPDATE per flush interval: a fleet heartbeating every 30 s would
// otherwise cost one write per heartbeat (19,000 agents: over 600 writes a second).
import { and, eq, lt, sql } from 'drizzle-orm'
import type { SystemInfo } from '../../protocol/index.ts'
import { SYSTEM_ACTOR } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { resultRows } from '../db/index.ts'
import { type AgentTransport, remoteMachines } from '../db/schema/index.ts'
import { publishLive, publishMachineChange } from '../live/bus.ts'
import type { AgentIdentity } from './guard.ts'
import { appendedLoadHistory, loadSample } from './load-history.ts'

/** Heartbeats a machine may miss before it counts as offline. */
export const MISSED_HEARTBEATS_OFFLINE = 3
/** Most machines written by one UPDATE (3 parameters each, far below Postgres' 65,535). */
export const HEARTBEAT_ROWS_PER_STATEMENT = 1000

/** Records a new connection (or long-poll) and returns its epoch, used to match its later close. */
export async function markConnected(ctx: AppContext, agent: AgentIdentity, transport: AgentTransport) {
  const now = ctx.now()
  const [before] = await ctx.db
    .select({
      status: remoteMachines.status,
      connected: remoteMachines.connected,
      transport: remoteMachines.transport,
      epoch: remoteMachines.connectionEpoch,
    })
    .from(remoteMachines)
    .where(eq(remoteMachines.machineId, agent.machineId))
  // Every long-poll request lands here; while the machine stays online over long-poll nothing
  // changes but the time, so that goes through the heartbeat buffer instead of a write per poll.
  if (
    transport === 'long_poll' &&
    before?.status === 'online' &&
    before.connected &&
    before.transport === 'long_poll'
  ) {
    bufferHeartbeat(ctx, agent.machineId, undefined)
    return before.epoch
  }
  const [row] = await ctx.db
    .update(remoteMachines)
    .set({
      connected: true,
      status: 'online',
      transport,
      lastHeartbeat: now,
      connectionEpoch: sql`${remoteMachines.connectionEpoch} + 1`,
    })
    .where(eq(remoteMachines.machineId, agent.machineId))
    .returning({ epoch: remoteMachines.connectionEpoch })
  if (before?.status !== 'online') {
    await ctx.audit('machine.online', agent.actor, { type: 'machine', id: agent.machineId }, { transport })
  }
  // Online, or a new channel (its transport shows in the lists).
  await publishMachineChange(ctx, 'presence', agent.machineId)
  return row?.epoch ?? 0
}

interface PendingHeartbeat {
  at: Date
  /** The latest system_info reported since the last flush, if any heartbeat carried one. */
  systemInfo: SystemInfo | undefined
}

export interface HeartbeatBuffer {
  pending: Map<string, PendingHeartbeat>
  flush(): Promise<void>
}

/** The instance's heartbeat buffer (ctx.state.heartbeats) and its flush timer. */
export function createHeartbeatBuffer(ctx: AppContext): HeartbeatBuffer {
  const metrics = ctx.state.metrics
  let running: Promise<void> | null = null
  const buffer: HeartbeatBuffer = {
    pending: new Map(),
    async flush() {
      // One flush at a time; a caller arriving meanwhile (the sweeper) waits, then writes what came since.
      while (running) await running
      if (buffer.pending.size === 0) return
      const batch = buffer.pending
      buffer.pending = new Map()
      running = writeHeartbeats(ctx, batch)
        .then((statements) => {
          metrics.heartbeatFlushes.inc(undefined, statements)
          metrics.heartbeatRowsFlushed.inc(undefined, batch.size)
        })
        .catch((error: unknown) => {
          // Keep what failed for the next flush, unless a newer heartbeat replaced it.
          for (const [machineId, beat] of batch)
            if (!buffer.pending.has(machineId)) buffer.pending.set(machineId, beat)
          throw error
        })
        .finally(() => {
          running = null
        })
      return running
    },
  }
  const timer = setInterval(() => {
    void buffer.flush().catch((error) => ctx.log.warn('heartbeat flush failed', { error }))
  }, ctx.config.agentChannel.heartbeatFlushMs)
  timer.unref?.()
  ctx.onClose(async () => {
    clearInterval(timer)
    await buffer.flush()
  })
  return buffer
}

/**
 * Writes the batch in UPDATE ... FROM (VALUES ...) statements; returns how many it ran. The
 * machines stream hears of every heartbeat (live load) and, apart, of machines it brought back
 * online (presence).
 */
async function writeHeartbeats(ctx: AppContext, batch: Map<string, PendingHeartbeat>): Promise<number> {
  const entries = [...batch]
  let statements = 0
  const beat: string[] = []
  const cameBack: string[] = []
  for (let i = 0; i < entries.length; i += HEARTBEAT_ROWS_PER_STATEMENT) {
    const rows = entries
      .slice(i, i + HEARTBEAT_ROWS_PER_STATEMENT)
      .map(
        ([machineId, beat]) =>
          sql`(${machineId}::text, ${beat.at.toISOString()}::timestamptz, ${beat.systemInfo ? JSON.stringify(beat.systemInfo) : null}::jsonb, ${sampleJson(beat)}::jsonb)`,
      )
    // greatest(): a connection recorded after this heartbeat keeps its newer time. `before`
    // is the row as the statement found it, to tell which machines this brought back online.
    const written = await ctx.db.execute(sql`
      update remote_machines as m
      set last_heartbeat = greatest(m.last_heartbeat, v.ts),
          status = 'online',
          connected = true,
          system_info = coalesce(v.info, m.system_info),
          load_history = ${appendedLoadHistory(sql`m.load_history`, sql`v.sample`)}
      from (values ${sql.join(rows, sql`, `)}) as v(machine_id, ts, info, sample), remote_machines as before
      where m.machine_id = v.machine_id and before.machine_id = m.machine_id
      returning m.machine_id, (before.status = 'online' and before.connected) as was_online`)
    for (const row of resultRows<{ machine_id: string; was_online: boolean }>(written)) {
      beat.push(row.machine_id)
      if (!row.was_online) cameBack.push(row.machine_id)
    }
    statements++
  }
  await publishLive(ctx, { topic: 'machines', kind: 'heartbeat', machine_ids: beat })
  await publishLive(ctx, { topic: 'machines', kind: 'presence', machine_ids: cameBack })
  return statements
}

/** The load sample of a buffered heartbeat, as JSON text (null: it carried none). */
function sampleJson(beat: PendingHeartbeat): string | null {
  const sample = loadSample(beat.systemInfo, beat.at)
  return sample ? JSON.stringify(sample) : null
}

/** Buffers the heartbeat; the row is written by the next flush (within heartbeatFlushMs). */
export function recordHeartbeat(ctx: AppContext, agent: AgentIdentity, systemInfo?: SystemInfo): void {
  ctx.state.metrics.heartbeats.inc()
  bufferHeartbeat(ctx, agent.machineId, systemInfo)
}

function bufferHeartbeat(ctx: AppContext, machineId: string, systemInfo: SystemInfo | undefined) {
  const buffer = ctx.state.heartbeats
  const previous = buffer.pending.get(machineId)
  buffer.pending.set(machineId, { at: ctx.now(), systemInfo: systemInfo ?? previous?.systemInfo })
}

/** Writes every buffered heartbeat now (before sweeping, on shutdown, in tests). */
export async function flushHeartbeats(ctx: AppContext): Promise<void> {
  await ctx.peek('heartbeats')?.flush()
}

/** Marks the machine offline unless another connection came since `epoch`. */
export async function markDisconnected(ctx: AppContext, machineId: string, epoch: number, reason: string) {
  // A heartbeat still buffered from the closed channel must not bring the machine back online;
  // it is kept only if a newer connection made this close moot.
  const pending = ctx.peek('heartbeats')?.pending
  const held = pending?.get(machineId)
  pending?.delete(machineId)
  const rows = await ctx.db
    .update(remoteMachines)
    .set({ connected: false, status: 'offline' })
    .where(and(eq(remoteMachines.machineId, machineId), eq(remoteMachines.connectionEpoch, epoch)))
    .returning({ status: remoteMachines.status })
  if (!rows.length && held && !pending?.has(machineId)) pending?.set(machineId, held)
  if (rows.length) {
    await ctx.audit('machine.offline', SYSTEM_ACTOR, { type: 'machine', id: machineId }, { reason })
    await publishMachineChange(ctx, 'presence', machineId)
  }
}

/** Marks offline every machine silent for MISSED_HEARTBEATS_OFFLINE intervals (buffered heartbeats count). */
export async function sweepSilentMachines(ctx: AppContext) {
  await flushHeartbeats(ctx)
  const interval = ctx.config.agentChannel.heartbeatIntervalSeconds * 1000
  const cutoff = new Date(ctx.now().getTime() - MISSED_HEARTBEATS_OFFLINE * interval)
  const rows = await ctx.db
    .update(remoteMachines)
    .set({ connected: false, status: 'offline' })
    .where(and(eq(remoteMachines.status, 'online'), lt(remoteMachines.lastHeartbeat, cutoff)))
    .returning({ machineId: remoteMachines.machineId, tenantId: remoteMachines.tenantId })
  for (const row of rows) {
    await ctx.audit(
      'machine.offline',
      SYSTEM_ACTOR,
      { type: 'machine', id: row.machineId },
      { reason: 'missed heartbeats' },
      { tenantId: row.tenantId },
    )
  }
  await publishLive(ctx, { topic: 'machines', kind: 'presence', machine_ids: rows.map((r) => r.machineId) })
}
