// The one writer of session state. Every change (a person's stop/pause/resume, the agent's
// started/exited/error reports, a machine being deregistered) goes through moveSession(s):
// the state machine decides, one conditional UPDATE writes, and the status event is published
// once the transaction has committed.
import { and, eq, inArray, type SQL } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { ENDED_SESSION_STATUSES, SESSION_STATUSES, type SessionStatus, sessions } from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { conflict } from '../errors.ts'
import { publishStatus } from './events.ts'
import { nextState, type SessionAction, type SessionState, transition } from './state.ts'

export interface MoveOptions {
  /** The caller's transaction; the status event goes out after it commits. */
  tx?: Tx
  /** Columns written with the move (the CLI's own session id when it started, why it failed). */
  set?: { cliSessionId?: string; errorCode?: string; errorMessage?: string }
}

const ENDED: ReadonlySet<SessionStatus> = new Set(ENDED_SESSION_STATUSES)

/** The one state `action` leads to, and the states it leads there from (no-ops left out). */
function movesOf(action: SessionAction): { to: SessionState; from: SessionState[] } | null {
  const from = SESSION_STATUSES.filter((s) => {
    const to = nextState(s, action)
    return to !== undefined && to !== s
  })
  if (from.length === 0) return null
  return { to: nextState(from[0]!, action)!, from }
}

function columns(ctx: AppContext, to: SessionState, options: MoveOptions) {
  const now = ctx.now()
  // An ended session works on nothing any more.
  const ended = ENDED.has(to) ? { endedAt: now, turnStartedAt: null, currentTool: null } : {}
  // A continued session is live again (starting is reached only by continuing; creation inserts it).
  const again = to === 'starting' ? { endedAt: null, errorCode: null, errorMessage: null } : {}
  return { status: to, updatedAt: now, ...ended, ...again, ...options.set }
}

/**
 * Moves every session matching `scope` that `action` can move (agent reports, deregistration);
 * sessions it cannot move are left as they are. Returns the ids moved.
 */
export async function moveSessions(
  ctx: AppContext,
  scope: SQL,
  action: SessionAction,
  options: MoveOptions = {},
): Promise<string[]> {
  const moves = movesOf(action)
  if (!moves) return []
  return ctx.transaction(async (tx) => {
    const rows = await tx
      .update(sessions)
      .set(columns(ctx, moves.to, options))
      .where(and(scope, inArray(sessions.status, moves.from)))
      .returning({ id: sessions.id })
    if (rows.length) {
      tx.afterCommit(async () => {
        for (const row of rows) await publishStatus(ctx, row.id, moves.to)
      })
    }
    return rows.map((r) => r.id)
  }, options.tx)
}

/**
 * Moves one session by `action`. With `from` (the state the caller saw, a person's request):
 * 409 when the state machine refuses or the session changed meanwhile; returns the new state.
 * Without it (an agent's report): a move the session cannot make is skipped; returns the new
 * state, or null when nothing changed.
 */
export async function moveSession(
  ctx: AppContext,
  id: string,
  action: SessionAction,
  options: MoveOptions & { from: SessionState },
): Promise<SessionState>
export async function moveSession(
  ctx: AppContext,
  id: string,
  action: SessionAction,
  options?: MoveOptions,
): Promise<SessionState | null>
export async function moveSession(
  ctx: AppContext,
  id: string,
  action: SessionAction,
  options: MoveOptions & { from?: SessionState } = {},
): Promise<SessionState | null> {
  const { from } = options
  if (from === undefined) {
    const moved = await moveSessions(ctx, eq(sessions.id, id), action, options)
    return moved.length ? movesOf(action)!.to : null
  }
  const to = transition(from, action)
  if (to === from && !options.set) return to
  await ctx.transaction(async (tx) => {
    const rows = await tx
      .update(sessions)
      .set(columns(ctx, to, options))
      .where(and(eq(sessions.id, id), eq(sessions.status, from)))
      .returning({ id: sessions.id })
    if (rows.length === 0) throw conflict('The session changed meanwhile; reload and try again')
    if (to !== from) tx.afterCommit(() => publishStatus(ctx, id, to))
  }, options.tx)
  return to
}

/** A deregistered machine's live sessions stop (machines/lifecycle.ts EndMachineSessions). */
export function endMachineSessions(ctx: AppContext, machineId: string, tx: Tx): Promise<string[]> {
  return moveSessions(ctx, eq(sessions.remoteMachineId, machineId), 'stop', { tx })
}
