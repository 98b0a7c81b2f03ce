// Agent token rotation without downtime. A graceful rotation issues a pending token (version
// +1) and sends it to the agent over the channel; the old token keeps working until the agent
// first uses the new one (then the old ones are revoked) or until the grace period after the
// old token's next use runs out. An offline machine's grace starts when it comes back, so it
// can still fetch the newest token. Only the newest pending token exists: a new rotation
// revokes older pending tokens and drops their undelivered commands. `immediate` is the
// emergency path: every older token stops at once and live channels are cut.
import { and, eq, isNull, max, ne, sql } from 'drizzle-orm'
import { revokeAccess } from '../access/revoke.ts'
import { queueCommand } from '../agents/commands.ts'
import { notifyAgentControl } from '../agents/hub.ts'
import { liveTokensOf, ROTATION_COMMAND } from '../agents/token-use.ts'
import type { Actor } from '../audit/service.ts'
import { hashToken, newSecretToken } from '../auth/tokens.ts'
import type { AppContext } from '../context/index.ts'
import { agentCommands, agentTokens, remoteMachines } from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { notFound } from '../errors.ts'
import { publishMachineChange } from '../live/bus.ts'

/** A new token for the machine, one version above every token it ever had. */
export async function issueAgentToken(
  tx: Tx,
  machineId: string,
  now: Date,
  options: { pending?: boolean } = {},
) {
  const token = newSecretToken()
  const [top] = await tx
    .select({ version: max(agentTokens.version) })
    .from(agentTokens)
    .where(eq(agentTokens.machineId, machineId))
  const version = (top?.version ?? 0) + 1
  await tx.insert(agentTokens).values({
    tokenHash: hashToken(token),
    machineId,
    createdAt: now,
    version,
    pending: options.pending ?? false,
  })
  return { token, version }
}

export interface RotateOptions {
  immediate?: boolean
}

export async function rotateAgentToken(
  ctx: AppContext,
  actor: Actor,
  machineId: string,
  options: RotateOptions = {},
) {
  const now = ctx.now()
  const graceMs = ctx.config.agentTokenRotationGraceSeconds * 1000
  const immediate = options.immediate === true
  const result = await ctx.transaction(async (tx) => {
    const [machine] = await tx
      .select({ tenantId: remoteMachines.tenantId, status: remoteMachines.status })
      .from(remoteMachines)
      .where(and(eq(remoteMachines.machineId, machineId), isNull(remoteMachines.deletedAt)))
      .for('update')
    if (!machine) throw notFound('Machine')
    if (immediate) {
      await tx
        .update(agentTokens)
        .set({ revokedAt: now, revokedReason: 'revoked' })
        .where(liveTokensOf(machineId))
      await tx
        .update(remoteMachines)
        .set({ connected: false, status: 'offline', updatedAt: now })
        .where(eq(remoteMachines.machineId, machineId))
    } else {
      // An earlier rotation the agent never picked up is replaced, not stacked.
      await tx
        .update(agentTokens)
        .set({ revokedAt: now, revokedReason: 'revoked' })
        .where(and(liveTokensOf(machineId), eq(agentTokens.pending, true)))
      // (Dates go in as ISO text: postgres-js cannot bind a Date inside raw sql.)
      // The token in use keeps working; its grace starts now when it is in use, else at its next use.
      await tx
        .update(agentTokens)
        .set({
          supersededAt: sql`coalesce(${agentTokens.supersededAt}, ${now.toISOString()}::timestamptz)`,
          ...(machine.status === 'online'
            ? {
                expiresAt: sql`coalesce(${agentTokens.expiresAt}, ${new Date(now.getTime() + graceMs).toISOString()}::timestamptz)`,
              }
            : {}),
        })
        .where(liveTokensOf(machineId))
      await tx
        .delete(agentCommands)
        .where(
          and(
            eq(agentCommands.machineId, machineId),
            eq(agentCommands.kind, ROTATION_COMMAND),
            ne(agentCommands.status, 'acked'),
          ),
        )
    }
    const issued = await issueAgentToken(tx, machineId, now, { pending: !immediate })
    return { ...issued, tenantId: machine.tenantId, online: machine.status === 'online' }
  })
  let sessionsEnded = 0
  if (immediate) {
    await notifyAgentControl(ctx, machineId)
    // The machine's agent is cut off: its sessions end (stopped when it returns re-registered).
    sessionsEnded = (await revokeAccess(ctx, 'agent_token_rotated', { machine_id: machineId }))
      .sessionsStopped.length
  } else {
    await queueCommand(ctx, machineId, {
      type: ROTATION_COMMAND,
      agent_token: result.token,
      version: result.version,
    })
    // A live channel on the old token is cut once its grace ends, if the agent never switched.
    if (result.online) scheduleGraceEnd(ctx, machineId, graceMs)
  }
  await publishMachineChange(ctx, 'token', machineId)
  await ctx.audit(
    'machine.token.rotate',
    actor,
    { type: 'machine', id: machineId },
    { mode: immediate ? 'immediate' : 'graceful', version: result.version, sessions_ended: sessionsEnded },
    { tenantId: result.tenantId },
  )
  return {
    machine_id: machineId,
    agent_token: result.token,
    version: result.version,
    mode: immediate ? ('immediate' as const) : ('graceful' as const),
  }
}

function scheduleGraceEnd(ctx: AppContext, machineId: string, graceMs: number) {
  const timer = setTimeout(() => {
    void notifyAgentControl(ctx, machineId).catch((error) =>
      ctx.log.warn('agent token grace check failed', { error }),
    )
  }, graceMs + 1000)
  timer.unref?.()
  ctx.onClose(() => clearTimeout(timer))
}
