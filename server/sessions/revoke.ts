// The sessions half of a revocation (server/access/revoke.ts asks it): stops the live sessions
// in scope that no longer pass the access rule (all of the machine's for a machine-wide reason),
// each in one transaction: state through moveSession, proxy tokens revoked, session.stop queued
// for the agent (applied when an offline machine comes back).
import { and, eq, inArray, type SQL } from 'drizzle-orm'
import { type AccessRevokedReason, type AccessScope, MACHINE_WIDE_REASONS } from '../access/events.ts'
import type { StopOptions } from '../access/revoke.ts'
import { loadStanding } from '../access/rule.ts'
import { queueCommand } from '../agents/commands.ts'
import type { AppContext } from '../context/index.ts'
import { LIVE_SESSION_STATUSES, sessions } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'
import { revokeProxyTokens } from '../llm-proxy/tokens.ts'
import { moveSession } from './lifecycle.ts'

/** Live sessions in scope, with the machine they run on. */
async function liveSessionsIn(ctx: AppContext, scope: AccessScope) {
  const where: SQL[] = []
  if (scope.user_id !== undefined) where.push(eq(sessions.userId, scope.user_id))
  if (scope.machine_id !== undefined) where.push(eq(sessions.remoteMachineId, scope.machine_id))
  if (scope.session_ids?.length) where.push(inArray(sessions.id, scope.session_ids))
  if (where.length === 0) return []
  return ctx.db
    .select({ id: sessions.id, machineId: sessions.remoteMachineId })
    .from(sessions)
    .where(and(inArray(sessions.status, LIVE_SESSION_STATUSES), ...where))
}

/** Stops what the revocation took away; returns the ids of the sessions it stopped. */
export async function stopRevokedSessions(
  ctx: AppContext,
  reason: AccessRevokedReason,
  scope: AccessScope,
  options: StopOptions,
): Promise<string[]> {
  const stopped: string[] = []
  for (const s of await liveSessionsIn(ctx, scope)) {
    if (!MACHINE_WIDE_REASONS.has(reason)) {
      const loaded = await loadStanding(ctx, 'owner', s.id)
      if (loaded?.role === 'owner') continue
    }
    if (await stopSession(ctx, s, options)) stopped.push(s.id)
  }
  return stopped
}

/** Stops one session in one transaction: state (through moveSession), its tokens, its stop command. */
async function stopSession(
  ctx: AppContext,
  s: { id: string; machineId: string | null },
  options: StopOptions,
): Promise<boolean> {
  return ctx.transaction(async (tx) => {
    const moved = await moveSession(ctx, s.id, 'stop', { tx })
    await revokeProxyTokens(ctx, { sessionId: s.id }, tx)
    if (moved === null) return false
    if (s.machineId && options.queueStop !== false) {
      // linkCommands: false when the session row is about to go (user deleted): the command must
      // outlive it, or the cascade would delete it and the CLI would keep running.
      // A machine removed meanwhile answers 404 before writing anything: nothing left to stop.
      await queueCommand(
        ctx,
        s.machineId,
        { type: 'session.stop', session_id: s.id },
        { tx, ...(options.linkCommands === false ? { sessionId: null } : {}) },
      ).catch((error) => {
        if (!(error instanceof HttpError && error.status === 404)) throw error
      })
    }
    return true
  })
}
