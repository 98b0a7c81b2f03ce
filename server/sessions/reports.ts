// What an agent reports about its sessions (started, exited, error, output, the heartbeat's
// list of exited sessions), handled here because sessions own session state: the channel
// (agents/frames.ts) only parses, checks and routes the frames. Every report is checked
// against the calling machine and tenant; anything else is refused and audited.
import { and, eq, getTableColumns, inArray } from 'drizzle-orm'
import type { AgentFrameOf } from '../../protocol/index.ts'
import { FrameRefused, type FrameReports, refuseFrame } from '../agents/frames.ts'
import type { AgentIdentity } from '../agents/guard.ts'
import type { AppContext } from '../context/index.ts'
import { sessionOutput, sessions } from '../db/schema/index.ts'
import { usageFrameReport } from '../quota/reports.ts'
import { publishOutput } from './events.ts'
import { moveSession, moveSessions } from './lifecycle.ts'
import { countStoredOutput, recordBytes } from './output-bounds.ts'
import { recordPermissionRequests } from './permissions.ts'
import { turnProgress } from './turn.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The session, when it runs on this agent's machine in its tenant; else refused and audited. */
export async function ownSession(
  ctx: AppContext,
  agent: AgentIdentity,
  sessionId: string,
  frameType: string,
) {
  const [row] = UUID.test(sessionId)
    ? await ctx.db
        .select({ id: sessions.id, status: sessions.status, droppedThrough: sessions.outputDroppedThrough })
        .from(sessions)
        .where(
          and(
            eq(sessions.id, sessionId),
            eq(sessions.remoteMachineId, agent.machineId),
            eq(sessions.tenantId, agent.tenantId),
          ),
        )
        .limit(1)
    : []
  if (row) return row
  await refuseFrame(ctx, agent, { type: 'session', id: sessionId }, frameType)
  throw new FrameRefused({ code: 'forbidden', message: `Session ${sessionId} is not on this machine` })
}

/** A session the agent reports as exited is over, even if its session.exited frame was lost. */
async function endExitedSessions(ctx: AppContext, agent: AgentIdentity, frame: AgentFrameOf<'heartbeat'>) {
  const exited = frame.sessions
    .filter((s) => s.state === 'exited' && UUID.test(s.session_id))
    .map((s) => s.session_id)
  if (exited.length === 0) return
  await moveSessions(
    ctx,
    and(
      inArray(sessions.id, exited),
      eq(sessions.remoteMachineId, agent.machineId),
      eq(sessions.tenantId, agent.tenantId),
    )!,
    'exited',
  )
}

/**
 * Postgres text cannot hold U+0000, which a CLI printing a binary byte produces: it becomes
 * U+FFFD, as a terminal would show it, instead of a frame the server can never store.
 */
function withoutNul<T>(value: T): T {
  if (typeof value === 'string')
    return (value.includes('\u0000') ? value.replaceAll('\u0000', '\uFFFD') : value) as T
  if (Array.isArray(value)) return value.map(withoutNul) as T
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [withoutNul(k), withoutNul(v)])) as T
  }
  return value
}

/**
 * Stores each (session, seq) once; only records new to the table are announced and counted
 * against the session's output limit. Records the limit already dropped are not stored again.
 */
async function storeOutput(ctx: AppContext, agent: AgentIdentity, frame: AgentFrameOf<'session.output'>) {
  const session = await ownSession(ctx, agent, frame.session_id, frame.type)
  const records = frame.records.filter((r) => r.seq > session.droppedThrough)
  if (records.length === 0) return
  const inserted = await ctx.db
    .insert(sessionOutput)
    .values(
      records.map((r) => ({
        sessionId: frame.session_id,
        seq: r.seq,
        stream: r.stream,
        data: withoutNul(r.data),
        event: r.event ? withoutNul(r.event) : null,
        ts: new Date(r.ts),
      })),
    )
    .onConflictDoNothing()
    .returning({ ...getTableColumns(sessionOutput), bytes: recordBytes })
  if (inserted.length) {
    inserted.sort((a, b) => a.seq - b.seq)
    // Permission requests first (an answer must find its row; a no-op without one), then the
    // watchers on this instance hear from memory; the bookkeeping follows.
    const fresh = new Set(inserted.map((r) => r.seq))
    await recordPermissionRequests(
      ctx,
      agent.machineId,
      frame.session_id,
      records.filter((r) => fresh.has(r.seq)),
    )
    await publishOutput(
      ctx,
      frame.session_id,
      inserted.map((r) => ({
        seq: r.seq,
        stream: r.stream,
        data: r.data,
        event: r.event,
        ts: r.ts.toISOString(),
      })),
    )
    await ctx.db
      .update(sessions)
      .set({ updatedAt: ctx.now(), ...turnProgress(inserted.map((r) => r.event)) })
      .where(eq(sessions.id, frame.session_id))
    await countStoredOutput(
      ctx,
      frame.session_id,
      inserted.reduce((sum, r) => sum + Number(r.bytes), 0),
    )
  }
}

export const sessionReports: Omit<
  FrameReports,
  'terminalBytes' | 'changes.updated' | 'hello' | 'agent.update_status'
> = {
  'usage.report': async (ctx, agent, frame) => {
    await ownSession(ctx, agent, frame.session_id, frame.type)
    await usageFrameReport(ctx, agent, frame)
  },
  heartbeat: endExitedSessions,
  'session.output': storeOutput,
  'session.started': async (ctx, agent, frame) => {
    await ownSession(ctx, agent, frame.session_id, frame.type)
    await moveSession(ctx, frame.session_id, 'started', {
      ...(frame.cli_session_id ? { set: { cliSessionId: frame.cli_session_id } } : {}),
    })
  },
  'session.exited': async (ctx, agent, frame) => {
    await ownSession(ctx, agent, frame.session_id, frame.type)
    // The conversation the CLI named, kept whatever the state (a person's stop came first), so
    // the session can be continued.
    if (frame.cli_session_id)
      await ctx.db
        .update(sessions)
        .set({ cliSessionId: frame.cli_session_id })
        .where(eq(sessions.id, frame.session_id))
    await moveSession(ctx, frame.session_id, 'exited')
  },
  'session.error': async (ctx, agent, frame) => {
    await ownSession(ctx, agent, frame.session_id, frame.type)
    ctx.log.warn('session error from agent', { session_id: frame.session_id, message: frame.message })
    await moveSession(ctx, frame.session_id, 'failed', {
      set: { errorCode: frame.code ?? 'agent_error', errorMessage: frame.message },
    })
  },
}
