// System-admin operations that cut an agent off: rotating or revoking its token, and
// deregistering the machine (its sessions end, its proxy tokens die, its agent is told to stop).
// Every instance hears about it through NOTIFY, so a live channel anywhere closes at once.
import { and, eq, isNull } from 'drizzle-orm'
import { revokeAccess } from '../access/revoke.ts'
import { dropUnackedCommands } from '../agents/commands.ts'
import { notifyAgentControl } from '../agents/hub.ts'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import {
  type AgentTokenRevokeReason,
  agentTokens,
  machineAssignments,
  remoteMachines,
} from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { notFound } from '../errors.ts'
import { publishMachineChange } from '../live/bus.ts'
import { revokeProxyTokens } from '../llm-proxy/tokens.ts'

async function liveMachine(ctx: AppContext, machineId: string) {
  const [machine] = await ctx.db
    .select()
    .from(remoteMachines)
    .where(and(eq(remoteMachines.machineId, machineId), isNull(remoteMachines.deletedAt)))
  if (!machine) throw notFound('Machine')
  return machine
}

async function revokeAgentTokens(tx: Tx, machineId: string, now: Date, reason: AgentTokenRevokeReason) {
  await tx
    .update(agentTokens)
    .set({ revokedAt: now, revokedReason: reason })
    .where(and(eq(agentTokens.machineId, machineId), isNull(agentTokens.revokedAt)))
  await tx
    .update(remoteMachines)
    .set({ connected: false, status: 'offline', updatedAt: now })
    .where(eq(remoteMachines.machineId, machineId))
}

export async function revokeAgentToken(ctx: AppContext, actor: Actor, machineId: string) {
  const machine = await liveMachine(ctx, machineId)
  await ctx.transaction((tx) => revokeAgentTokens(tx, machineId, ctx.now(), 'revoked'))
  await notifyAgentControl(ctx, machineId)
  await publishMachineChange(ctx, 'token', machineId)
  const { sessionsStopped } = await revokeAccess(ctx, 'agent_token_revoked', { machine_id: machineId })
  await ctx.audit(
    'machine.token.revoke',
    actor,
    { type: 'machine', id: machineId },
    { sessions_ended: sessionsStopped.length },
    { tenantId: machine.tenantId },
  )
  return { machine_id: machineId, revoked: true as const }
}

/**
 * Ends a machine's live sessions inside its deregistration's transaction; returns their ids.
 * Sessions own that (sessions/lifecycle.ts endMachineSessions), and machines/ must not import
 * sessions/ (which imports machines/), so the app passes it in.
 */
export type EndMachineSessions = (ctx: AppContext, machineId: string, tx: Tx) => Promise<string[]>

/** Deregisters: the row stays (history), everything that let it act is gone. */
export async function deleteMachine(
  ctx: AppContext,
  actor: Actor,
  machineId: string,
  endSessions: EndMachineSessions,
) {
  const machine = await liveMachine(ctx, machineId)
  const now = ctx.now()
  // One transaction: tokens, assignments, live sessions, queued commands and proxy tokens go together.
  const { ended, proxyTokensRevoked } = await ctx.transaction(async (tx) => {
    await revokeAgentTokens(tx, machineId, now, 'deregistered')
    await tx.update(remoteMachines).set({ deletedAt: now }).where(eq(remoteMachines.machineId, machineId))
    await tx.delete(machineAssignments).where(eq(machineAssignments.machineId, machineId))
    const ended = await endSessions(ctx, machineId, tx)
    await dropUnackedCommands(tx, machineId)
    return { ended, proxyTokensRevoked: await revokeProxyTokens(ctx, { machineId }, tx) }
  })
  await notifyAgentControl(ctx, machineId)
  await publishMachineChange(ctx, 'deleted', machineId)
  // Sessions already ended in the transaction; this closes their streams everywhere.
  await revokeAccess(ctx, 'machine_deregistered', { machine_id: machineId, session_ids: ended })
  await ctx.audit(
    'machine.delete',
    actor,
    { type: 'machine', id: machineId, name: machine.name },
    { sessions_ended: ended.length, proxy_tokens_revoked: proxyTokensRevoked },
    { tenantId: machine.tenantId },
  )
  return { machine_id: machineId, deleted: true as const, sessions_ended: ended.length }
}
