// What an agent reports about its sessions (started, exited, error, output, the heartbeat's
// list of exited sessions), handled here because sessions own session state: the channel
// (agents/frames.ts) only parses, checks and routes the frames. Every report is checked
// against the calling machine and tenant; anything else is refused and audited.
import { Buffer } from 'node:buffer'
import { and, eq, getTableColumns, inArray } from 'drizzle-orm'
import type { AgentFrameOf } from '../../protocol/index.ts'
import { FrameRefused, type FrameReports, refuseFrame } from '../agents/frames.ts'
import type { AgentIdentity } from '../agents/guard.ts'
import type { AppContext } from '../context/index.ts'
import { sessionOutput, sessions } from '../db/schema/index.ts'
import { usageFrameReport } from '../quota/reports.ts'
import { announceArrivingOutput, publishOutput, type StoredOutputRecord } from './events.ts'
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
 * A value as a jsonb column gives it back: object keys shorter first, then in byte order (the
 * order Postgres keeps them in), so output told before it is stored reads like the stored row.
 */
function asJsonb<T>(value: T): T {
  if (Array.isArray(value)) return value.map(asJsonb) as T
  if (!value || typeof value !== 'object') return value
  const keys = Object.keys(value).sort((a, b) => {
    const byLength = Buffer.byteLength(a) - Buffer.byteLength(b)
    return byLength !== 0 ? byLength : Buffer.compare(Buffer.from(a), Buffer.from(b))
  })
  return Object.fromEntries(keys.map((k) => [k, asJsonb((value as Record<string, unknown>)[k])])) as T
}

/**
 * Stores each (session, seq) once; only records new to the table are announced and counted
 * against the session's output limit. Records the limit already dropped are not stored again.
 * This instance's streams get the records as they arrive, before the insert: a stream sends
 * only records past the ones it has, and the agent's records are what the insert stores (a
 * duplicate seq is the same record sent again). A frame with a permission request waits for its
 * row (an answer must find it).
 */
async function storeOutput(ctx: AppContext, agent: AgentIdentity, frame: AgentFrameOf<'session.output'>) {
  const session = await ownSession(ctx, agent, frame.session_id, frame.type)
  const records = frame.records.filter((r) => r.seq > session.droppedThrough)
  if (records.length === 0) return
  const rows = records.map((r) => ({
    sessionId: frame.session_id,
    seq: r.seq,
    stream: r.stream,
    data: withoutNul(r.data),
    event: r.event ? withoutNul(r.event) : null,
    ts: new Date(r.ts),
  }))
  const permissionAsked = rows.some((r) => r.event?.kind === 'permission_request')
  if (!permissionAsked && rows.every((r) => !Number.isNaN(r.ts.getTime())))
    announceArrivingOutput(ctx, frame.session_id, rows.map(toStoredRecord))
  const inserted = await ctx.db
    .insert(sessionOutput)
    .values(rows)
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
    await publishOutput(ctx, frame.session_id, inserted.map(toStoredRecord))
    // The session's progress and its output count in one UPDATE.
    await countStoredOutput(
      ctx,
      frame.session_id,
      inserted.reduce((sum, r) => sum + Number(r.bytes), 0),
      { updatedAt: ctx.now(), ...turnProgress(inserted.map((r) => r.event)) },
    )
  }
}

function toStoredRecord(r: (typeof sessionOutput)['$inferInsert']): StoredOutputRecord {
  return {
    seq: r.seq,
    stream: r.stream,
    data: r.data,
    event: r.event ? asJsonb(r.event) : null,
    ts: (r.ts as Date).toISOString(),
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
