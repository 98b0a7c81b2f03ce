// What the server does with each agent frame, shared by the WebSocket and long-poll transports.
// The channel handles its own frames (hello, heartbeat, ack, fs.result) and routes reports about
// sessions and usage to their owners, passed in as FrameReports. Every handler is idempotent
// (a resent frame changes nothing twice); a frame naming what is not the caller's is refused and audited.
import { eq } from 'drizzle-orm'
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
import { type AgentTransport, remoteMachines } from '../db/schema/index.ts'
import { ackCommands } from './commands.ts'
import type { AgentIdentity } from './guard.ts'
import { outputFrameBytes } from './output-pace.ts'
import { markConnected, recordHeartbeat } from './presence.ts'
import { ANSWERED_COMMANDS, storeCommandResult } from './results.ts'

/** Frames about what other capabilities own (sessions, usage), handled by them. */
type ReportedFrame =
  | 'hello'
  | 'agent.update_status'
  | 'heartbeat'
  | 'session.output'
  | 'session.started'
  | 'session.exited'
  | 'session.error'
  | 'usage.report'
  | 'changes.updated'
export type FrameReport<K extends ReportedFrame> = (
  ctx: AppContext,
  agent: AgentIdentity,
  frame: AgentFrameOf<K>,
) => Promise<void>
/**
 * The handlers the app composes in (sessions/reports.ts, terminals/relay.ts, changes/reports.ts,
 * updates/ for hello and agent.update_status); the channel imports none of them. `hello` runs
 * after the channel stored the agent's version and capabilities.
 */
export type FrameReports = { [K in ReportedFrame]: FrameReport<K> } & {
  /** A binary WebSocket message: terminal bytes, relayed at once outside the frame queue. */
  terminalBytes(ctx: AppContext, machineId: string, data: Uint8Array): void
}

export interface FrameOutcome {
  replies: ReplyFrame[]
  /** The frame was a hello: the agent (re)started, so unacked commands go out again. */
  hello?: boolean
  /** With hello: the connection epoch the machine was marked online with (presence.ts). */
  epoch?: number
  /** The frame was a heartbeat: a chance to hand over commands whose wake-up was lost. */
  heartbeat?: boolean
}

/** Thrown by a frame handler to answer the agent with this error frame (nothing stored). */
export class FrameRefused extends Error {
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
  reports: FrameReports,
  transport: AgentTransport,
): Promise<FrameOutcome> {
  const parsed = parseAgentFrame(raw)
  if (!parsed.ok) return { replies: [errorFrame(parsed.error)] }
  const frame = parsed.value
  try {
    const outcome: FrameOutcome = { replies: [] }
    outcome.replies = await handleFrame(ctx, agent, frame, reports, transport, outcome)
    if (frame.id) outcome.replies.push({ type: 'received', ids: [frame.id] })
    return { ...outcome, hello: frame.type === 'hello', heartbeat: frame.type === 'heartbeat' }
  } catch (error) {
    const ref = frame.id ? { ref: frame.id } : {}
    if (error instanceof FrameRefused) return { replies: [errorFrame({ ...error.frameError, ...ref })] }
    ctx.log.error('agent frame failed', { machine_id: agent.machineId, type: frame.type, error })
    return { replies: [errorFrame({ code: 'internal', message: `Could not process ${frame.type}`, ...ref })] }
  }
}

async function handleFrame(
  ctx: AppContext,
  agent: AgentIdentity,
  frame: AgentFrame,
  reports: FrameReports,
  transport: AgentTransport,
  outcome: FrameOutcome,
): Promise<ReplyFrame[]> {
  switch (frame.type) {
    case 'hello': {
      const replies = await handleHello(ctx, agent, frame)
      // Online once the hello's capabilities are stored, never before: an open socket or a
      // first poll alone says nothing about what the machine can do.
      outcome.epoch = await markConnected(ctx, agent, transport)
      await reports.hello(ctx, agent, frame)
      return replies
    }
    case 'heartbeat':
      recordHeartbeat(ctx, agent, frame.system_info)
      await reports.heartbeat(ctx, agent, frame)
      return []
    case 'ack':
      ackCommands(ctx, agent.machineId, frame.command_ids)
      return []
    case 'session.output': {
      // Over the agent's output rate the frame waits, and so does its receipt (back-pressure).
      const wait = ctx.state.outputPacer.reserve(agent.machineId, outputFrameBytes(frame.records))
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      await reports[frame.type](ctx, agent, frame)
      return []
    }
    case 'session.started':
    case 'session.exited':
    case 'session.error':
    case 'usage.report':
    case 'changes.updated':
    case 'agent.update_status':
      await (reports[frame.type] as FrameReport<typeof frame.type>)(ctx, agent, frame)
      return []
    case 'fs.result':
    case 'log.result':
    case 'changes.result':
      if (!(await storeCommandResult(ctx, agent, frame))) {
        await refuseFrame(ctx, agent, { type: 'command', id: frame.request_id }, frame.type)
        throw new FrameRefused({
          code: 'not_found',
          message: `No ${ANSWERED_COMMANDS[frame.type]} ${frame.request_id} was sent to this machine`,
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
export async function refuseFrame(ctx: AppContext, agent: AgentIdentity, target: Target, frameType: string) {
  await ctx.audit(
    'agent.binding_violation',
    agent.actor,
    target,
    { frame: frameType, machine_id: agent.machineId },
    { outcome: 'denied' },
  )
}
