// What an agent's token being used means for rotation (machines/rotation.ts): the first use of
// a pending token retires the machine's older ones; the first use of a superseded token starts
// its grace period. Here, beside the guard that calls it on every agent authentication, because
// the channel must not import machines/ (which imports the channel).
import { and, eq, isNull, ne } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { agentCommands, agentTokens } from '../db/schema/index.ts'

/** The command kind that hands an agent its rotated token. */
export const ROTATION_COMMAND = 'agent.token'

export const liveTokensOf = (machineId: string) =>
  and(eq(agentTokens.machineId, machineId), isNull(agentTokens.revokedAt))

export interface PresentedToken {
  machineId: string
  tokenHash: string
  pending: boolean
  supersededAt: Date | null
  expiresAt: Date | null
}

/**
 * Called on every successful agent authentication. The first use of a pending token retires the
 * machine's older tokens (the agent switched); the first use of a superseded token starts its
 * grace period.
 */
export async function notePresentedToken(ctx: AppContext, presented: PresentedToken): Promise<void> {
  const now = ctx.now()
  if (presented.pending) {
    await ctx.transaction(async (tx) => {
      await tx
        .update(agentTokens)
        .set({ pending: false })
        .where(eq(agentTokens.tokenHash, presented.tokenHash))
      await tx
        .update(agentTokens)
        .set({ revokedAt: now, revokedReason: 'revoked' })
        .where(and(liveTokensOf(presented.machineId), ne(agentTokens.tokenHash, presented.tokenHash)))
      await tx
        .delete(agentCommands)
        .where(
          and(eq(agentCommands.machineId, presented.machineId), eq(agentCommands.kind, ROTATION_COMMAND)),
        )
    })
    await ctx.audit(
      'machine.token.rotate.confirmed',
      { type: 'agent', id: presented.machineId },
      { type: 'machine', id: presented.machineId },
    )
  } else if (presented.supersededAt && !presented.expiresAt) {
    await ctx.db
      .update(agentTokens)
      .set({ expiresAt: new Date(now.getTime() + ctx.config.agentTokenRotationGraceSeconds * 1000) })
      .where(and(eq(agentTokens.tokenHash, presented.tokenHash), isNull(agentTokens.expiresAt)))
  }
}
