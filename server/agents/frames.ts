// What the server does with each agent frame, shared by the WebSocket and long-poll transports.
// Every handler is idempotent (a resent frame changes nothing twice) and every frame about a
// session is checked against the calling machine and tenant: anything else is refused and audited.
import { and, eq, inArray } from 'drizzle-orm'
import {
  type AgentFrame,
  type AgentFrameOf,
  type ErrorFrame,
  type FrameError,
  PROTOCOL_VERSION,
  parseAgentFrame,
  type ReplyFrame,
} from '../../protocol/index.ts'
import type { Target } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { remoteMachines, type SessionStatus, sessionOutput, sessions } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'
import { storeUsageReport } from '../quota/reports.ts'
import { publishOutput, publishStatus } from '../sessions/events.ts'
import { recordPermissionRequests } from '../sessions/permissions.ts'
import { ackCommands } from './commands.ts'
import type { AgentIdentity } from './guard.ts'
import { recordHeartbeat } from './presence.ts'
import { storeFsResult } from './results.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const LIVE_STATUSES: SessionStatus[] = ['starting', 'active', 'paused']

export interface FrameOutcome {
  replies: ReplyFrame[]
  /** The frame was a hello: the agent (re)started, so unacked commands go out again. */
  hello?: boolean
  /** The frame was a heartbeat: a chance to hand over commands whose wake-up was lost. */
  heartbeat?: boolean
}

class FrameRefused extends Error {
  constructor(readonly frameError: FrameError) {
    super(frameError.message)
  }
}

function errorFrame(error: FrameError): ErrorFrame {
  return { type: 'error', ...error }
}

/** Parses and handles one raw frame; never throws (a failure becomes an error reply). */
export async function handleRawFrame(
  ctx: AppContext,
  agent: AgentIdentity,
  raw: unknown,
): Promise<FrameOutcome> {
  const parsed = parseAgentFrame(raw)
  if (!parsed.ok) return { replies: [errorFrame(parsed.error)] }
  const frame = parsed.value
  try {
    const replies = await handleFrame(ctx, agent, frame)
    if (frame.id) replies.push({ type: 'received', ids: [frame.id] })
    return { replies, hello: frame.type === 'hello', heartbeat: frame.type === 'heartbeat' }
  } catch (error) {
    const ref = frame.id ? { ref: frame.id } : {}
    if (error instanceof FrameRefused) return { replies: [errorFrame({ ...error.frameError, ...ref })] }
    ctx.log.error('agent frame failed', { machine_id: agent.machineId, type: frame.type, error })
    return { replies: [errorFrame({ code: 'internal', message: `Could not process ${frame.type}`, ...ref })] }
  }
}

async function handleFrame(ctx: AppContext, agent: AgentIdentity, frame: AgentFrame): Promise<ReplyFrame[]> {
  switch (frame.type) {
    case 'hello':
      return handleHello(ctx, agent, frame)
    case 'heartbeat':
      recordHeartbeat(ctx, agent, frame.system_info)
      await endExitedSessions(ctx, agent, frame)
      return []
    case 'ack':
      await ackCommands(ctx, agent.machineId, frame.command_ids)
      return []
    case 'session.output':
      await storeOutput(ctx, agent, frame)
      return []
    case 'session.started':
      await ownSession(ctx, agent, frame.session_id, frame.type)
      await moveSession(ctx, frame.session_id, ['starting'], 'active', {
        ...(frame.cli_session_id ? { cliSessionId: frame.cli_session_id } : {}),
      })
      return []
    case 'session.exited':
      await ownSession(ctx, agent, frame.session_id, frame.type)
      await moveSession(ctx, frame.session_id, LIVE_STATUSES, 'stopped', { endedAt: ctx.now() })
      return []
    case 'session.error':
      await ownSession(ctx, agent, frame.session_id, frame.type)
      ctx.log.warn('session error from agent', { session_id: frame.session_id, message: frame.message })
      await moveSession(ctx, frame.session_id, LIVE_STATUSES, 'error', { endedAt: ctx.now() })
      return []
    case 'usage.report':
      // Kept apart from the proxy's ledger (which is what counts toward quota), once per report id.
      await ownSession(ctx, agent, frame.session_id, frame.type)
      try {
        await storeUsageReport(ctx, agent, {
          reportId: frame.id ?? `${frame.session_id}@${frame.ts}`,
          sessionId: frame.session_id,
          model: frame.model,
          usage: frame.usage,
        })
      } catch (error) {
        if (error instanceof HttpError && error.status === 429) {
          throw new FrameRefused({ code: 'rate_limited', message: error.message })
        }
        throw error
      }
      return []
    case 'fs.result':
      if (!(await storeFsResult(ctx, agent, frame))) {
        await refuse(ctx, agent, { type: 'command', id: frame.request_id }, frame.type)
        throw new FrameRefused({
          code: 'not_found',
          message: `No fs.list ${frame.request_id} was sent to this machine`,
        })
      }
      return []
  }
}

async function handleHello(
  ctx: AppContext,
  agent: AgentIdentity,
  frame: AgentFrameOf<'hello'>,
): Promise<ReplyFrame[]> {
  if (frame.machine_id !== agent.machineId) {
    await ctx.audit(
      'agent.binding_violation',
      agent.actor,
      { type: 'machine', id: agent.machineId },
      {
        frame: 'hello',
        claimed_machine_id: frame.machine_id,
      },
      { outcome: 'denied' },
    )
    throw new FrameRefused({ code: 'forbidden', message: 'hello.machine_id does not match this agent token' })
  }
  if (frame.protocol_version !== PROTOCOL_VERSION) {
    throw new FrameRefused({
      code: 'unsupported_version',
      message: `Protocol version ${frame.protocol_version} is not supported; this server speaks ${PROTOCOL_VERSION}`,
    })
  }
  await ctx.db
    .update(remoteMachines)
    .set({
      agentVersion: frame.agent_version,
      systemInfo: frame.system_info,
      ...(frame.capabilities ? { capabilities: frame.capabilities } : {}),
      lastHeartbeat: ctx.now(),
      updatedAt: ctx.now(),
    })
    .where(eq(remoteMachines.machineId, agent.machineId))
  return [
    {
      type: 'welcome',
      machine_id: agent.machineId,
      protocol_version: PROTOCOL_VERSION,
      heartbeat_interval_seconds: ctx.config.agentChannel.heartbeatIntervalSeconds,
      server_time: ctx.now().toISOString(),
    },
  ]
}

/** Audits a frame that names something not belonging to the calling machine. */
async function refuse(ctx: AppContext, agent: AgentIdentity, target: Target, frameType: string) {
  await ctx.audit(
    'agent.binding_violation',
    agent.actor,
    target,
    { frame: frameType, machine_id: agent.machineId },
    { outcome: 'denied' },
  )
}

/** The session, when it runs on this agent's machine in its tenant; else refused and audited. */
async function ownSession(ctx: AppContext, agent: AgentIdentity, sessionId: string, frameType: string) {
  const [row] = UUID.test(sessionId)
    ? await ctx.db
        .select({ id: sessions.id, status: sessions.status })
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
  await refuse(ctx, agent, { type: 'session', id: sessionId }, frameType)
  throw new FrameRefused({ code: 'forbidden', message: `Session ${sessionId} is not on this machine` })
}

async function moveSession(
  ctx: AppContext,
  sessionId: string,
  from: SessionStatus[],
  to: SessionStatus,
  extra: Partial<typeof sessions.$inferInsert>,
) {
  const rows = await ctx.db
    .update(sessions)
    .set({ status: to, updatedAt: ctx.now(), ...extra })
    .where(and(eq(sessions.id, sessionId), inArray(sessions.status, from)))
    .returning({ id: sessions.id })
  if (rows.length) await publishStatus(ctx, sessionId, to)
}

/** A session the agent reports as exited is over, even if its session.exited frame was lost. */
async function endExitedSessions(ctx: AppContext, agent: AgentIdentity, frame: AgentFrameOf<'heartbeat'>) {
  const exited = frame.sessions
    .filter((s) => s.state === 'exited' && UUID.test(s.session_id))
    .map((s) => s.session_id)
  if (exited.length === 0) return
  const rows = await ctx.db
    .update(sessions)
    .set({ status: 'stopped', endedAt: ctx.now(), updatedAt: ctx.now() })
    .where(
      and(
        inArray(sessions.id, exited),
        eq(sessions.remoteMachineId, agent.machineId),
        eq(sessions.tenantId, agent.tenantId),
        inArray(sessions.status, LIVE_STATUSES),
      ),
    )
    .returning({ id: sessions.id })
  for (const row of rows) await publishStatus(ctx, row.id, 'stopped')
}

/** Stores each (session, seq) once; only records new to the table are announced. */
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

async function storeOutput(ctx: AppContext, agent: AgentIdentity, frame: AgentFrameOf<'session.output'>) {
  await ownSession(ctx, agent, frame.session_id, frame.type)
  const inserted = await ctx.db
    .insert(sessionOutput)
    .values(
      frame.records.map((r) => ({
        sessionId: frame.session_id,
        seq: r.seq,
        stream: r.stream,
        data: withoutNul(r.data),
        event: r.event ? withoutNul(r.event) : null,
        ts: new Date(r.ts),
      })),
    )
    .onConflictDoNothing()
    .returning({ seq: sessionOutput.seq })
  if (inserted.length) {
    await ctx.db.update(sessions).set({ updatedAt: ctx.now() }).where(eq(sessions.id, frame.session_id))
    const fresh = new Set(inserted.map((r) => r.seq))
    await recordPermissionRequests(
      ctx,
      agent.machineId,
      frame.session_id,
      frame.records.filter((r) => fresh.has(r.seq)),
    )
    await publishOutput(
      ctx,
      frame.session_id,
      inserted.map((r) => r.seq),
    )
  }
}
