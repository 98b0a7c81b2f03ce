// Presence: a machine is online while its WebSocket is open or long-polls keep coming. It goes
// offline after 3 missed heartbeat intervals (a sweeper on every instance), or once a closed
// socket has not come back within the grace period.
import { and, eq, lt, sql } from 'drizzle-orm'
import type { SystemInfo } from '../../protocol/index.ts'
import { SYSTEM_ACTOR } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { type AgentTransport, remoteMachines } from '../db/schema/index.ts'
import type { AgentIdentity } from './auth.ts'

/** Heartbeats a machine may miss before it counts as offline. */
export const MISSED_HEARTBEATS_OFFLINE = 3

/** Records a new connection (or long-poll) and returns its epoch, used to match its later close. */
export async function markConnected(ctx: AppContext, agent: AgentIdentity, transport: AgentTransport) {
  const now = ctx.now()
  const [before] = await ctx.db
    .select({ status: remoteMachines.status })
    .from(remoteMachines)
    .where(eq(remoteMachines.machineId, agent.machineId))
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
  return row?.epoch ?? 0
}

export async function recordHeartbeat(ctx: AppContext, agent: AgentIdentity, systemInfo?: SystemInfo) {
  await ctx.db
    .update(remoteMachines)
    .set({
      lastHeartbeat: ctx.now(),
      status: 'online',
      connected: true,
      ...(systemInfo ? { systemInfo } : {}),
    })
    .where(eq(remoteMachines.machineId, agent.machineId))
}

/** Marks the machine offline unless another connection came since `epoch`. */
export async function markDisconnected(ctx: AppContext, machineId: string, epoch: number, reason: string) {
  const rows = await ctx.db
    .update(remoteMachines)
    .set({ connected: false, status: 'offline' })
    .where(and(eq(remoteMachines.machineId, machineId), eq(remoteMachines.connectionEpoch, epoch)))
    .returning({ status: remoteMachines.status })
  if (rows.length) {
    await ctx.audit('machine.offline', SYSTEM_ACTOR, { type: 'machine', id: machineId }, { reason })
  }
}

/** Marks offline every machine silent for MISSED_HEARTBEATS_OFFLINE intervals. */
export async function sweepSilentMachines(ctx: AppContext) {
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
}
