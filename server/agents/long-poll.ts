// The HTTP long-poll transport (POST /api/remote/agent/message): the agent posts its frames and
// acks; the answer comes as soon as a command is pending, or empty after the poll timeout.
// Terminal traffic rides it too: the agent's output in its requests, relayed at once; input,
// resizes and acks for it in the answer to its waiting request, which they answer at once.
// Works on any runtime (web-standard Request/Response), so it is the Deno fallback too.
import { Buffer } from 'node:buffer'
import {
  type Command,
  type LongPollResponse,
  MAX_TERMINAL_MESSAGES_PER_POLL,
  type ReplyFrame,
} from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { claimCommands, MAX_COMMANDS_PER_DELIVERY, markSent } from './commands.ts'
import { type FrameReports, handleRawFrame } from './frames.ts'
import { type AgentIdentity, AgentUnauthorizedError } from './guard.ts'
import type { ChannelHub, WaitingPoll } from './hub.ts'
import { markConnected } from './presence.ts'

/** A command delivered in an answer the agent never acked is sent again after this long. */
export const LONG_POLL_REDELIVER_AFTER_MS = 30_000

export interface PollRequest {
  events: unknown[]
  wait?: boolean
  terminal?: string[]
}

/**
 * Frames handled in memory or about sessions (acks, output): a non-waiting request of these alone
 * claims nothing, as the waiting request carries the commands (a claim there sat in front of the
 * output's insert). Lost answers are redelivered by the agent's other requests (heartbeats).
 */
const CLAIMLESS_FRAMES = new Set(['ack', 'session.output'])
const claimless = (events: unknown[]) =>
  events.length > 0 &&
  events.every((e) => CLAIMLESS_FRAMES.has(String((e as { type?: unknown } | null)?.type)))

function mergeReceipts(replies: ReplyFrame[]): ReplyFrame[] {
  const ids = replies.flatMap((r) => (r.type === 'received' ? r.ids : []))
  const others = replies.filter((r) => r.type !== 'received')
  return ids.length ? [...others, { type: 'received', ids }] : others
}

export async function handlePoll(
  ctx: AppContext,
  agent: AgentIdentity,
  body: PollRequest,
  signal: AbortSignal,
  reports: FrameReports,
): Promise<LongPollResponse> {
  const hub = ctx.state.channelHub
  await hub.ready
  hub.pollSeen(agent.machineId)
  for (const text of body.terminal ?? [])
    reports.terminalBytes(ctx, agent.machineId, new Uint8Array(Buffer.from(text, 'base64')))
  // A batch of terminal output alone: nothing else to do (the waiting request keeps the
  // machine online and carries its commands), so it costs no database round trip.
  if (body.terminal?.length && !body.events.length && body.wait === false)
    return { commands: [], replies: [] }
  const waiting = body.wait !== false
  const deliveredBefore = () => new Date(ctx.now().getTime() - LONG_POLL_REDELIVER_AFTER_MS)
  // After a hello (agent restarted) everything unacked goes out again; otherwise only what is
  // pending, plus answers that were evidently lost.
  let hello = false
  const claim = (first: boolean) =>
    claimCommands(ctx, agent.machineId, {
      redeliver: true,
      ...(first && hello ? {} : { deliveredBefore: deliveredBefore() }),
    })
  // The re-poll right after an answer that carried terminal traffic (typing) or every command
  // there was: nothing can be pending that would not have woken it, so it waits at once, without
  // a claim or presence round trip. Presence is kept by the agent's heartbeats, redelivery by
  // its other requests.
  if (waiting && !body.events.length && !hub.closing && !signal.aborted && hub.quickRepoll(agent.machineId)) {
    const waited = await waitForCommands(ctx, hub, agent, signal, () => claim(false), false)
    return respond(hub, agent, [], signal, waited)
  }
  const replies: ReplyFrame[] = []
  for (const event of body.events) {
    const outcome = await handleRawFrame(ctx, agent, event, reports, 'long_poll')
    replies.push(...outcome.replies)
    hello ||= outcome.hello === true
  }
  // A hello marked the machine online as it was stored (frames.ts); other polls keep it so.
  if (!hello) await markConnected(ctx, agent, 'long_poll')
  const commands = !waiting && claimless(body.events) ? [] : await claim(true)
  const answer = (cmds: Command[], released = false): LongPollResponse =>
    waiting
      ? respond(hub, agent, replies, signal, { commands: cmds, released })
      : { commands: cmds, replies: mergeReceipts(replies) }
  // A welcome or an error is news the agent should have now, not after the poll timeout.
  const urgent = replies.some((r) => r.type !== 'received')
  if (
    commands.length ||
    urgent ||
    !waiting ||
    hub.closing ||
    signal.aborted ||
    hub.terminalPending(agent.machineId)
  )
    return answer(commands)
  const waited = await waitForCommands(ctx, hub, agent, signal, () => claim(false))
  return answer(waited.commands, waited.released)
}

/**
 * The answer to a waiting request, with the terminal traffic queued for the agent: only here
 * (one waiting request at a time, so it stays in order), and not in an answer superseded by a
 * newer request or whose agent is gone (it would be lost).
 */
function respond(
  hub: ChannelHub,
  agent: AgentIdentity,
  replies: ReplyFrame[],
  signal: AbortSignal,
  waited: { commands: Command[]; released: boolean },
): LongPollResponse {
  const terminal =
    !waited.released && !signal.aborted
      ? hub.takeTerminal(agent.machineId, MAX_TERMINAL_MESSAGES_PER_POLL)
      : []
  hub.pollSeen(agent.machineId)
  const everyCommand = waited.commands.length > 0 && waited.commands.length < MAX_COMMANDS_PER_DELIVERY
  if ((terminal.length || everyCommand) && !waited.released && !replies.length)
    hub.noteAnswer(agent.machineId)
  return {
    commands: waited.commands,
    replies: mergeReceipts(replies),
    ...(terminal.length ? { terminal: terminal.map((m) => Buffer.from(m).toString('base64')) } : {}),
  }
}

/**
 * Holds the request until a command is claimable, terminal traffic is queued, the timeout
 * passes, or the token is revoked. `released`: a newer request (or the shutdown) ended it.
 */
function waitForCommands(
  ctx: AppContext,
  hub: ChannelHub,
  agent: AgentIdentity,
  signal: AbortSignal,
  claim: () => Promise<Command[]>,
  /** False for a quick re-poll: nothing was missed before attaching, so only a wake claims. */
  claimFirst = true,
): Promise<{ commands: Command[]; released: boolean }> {
  return new Promise((resolve, reject) => {
    let settled = false
    let claiming = false
    let wokenWhileClaiming = false
    /** Terminal traffic arrived during a claim: answer once the claims in progress are done. */
    let terminalWhileClaiming = false
    const finish = (result: Command[] | Error, released = false) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      hub.detachPoll(poll)
      if (result instanceof Error) reject(result)
      else resolve({ commands: result, released })
    }
    const tryClaim = async () => {
      if (settled || signal.aborted) return
      if (claiming) {
        wokenWhileClaiming = true
        return
      }
      claiming = true
      try {
        do {
          wokenWhileClaiming = false
          const commands = await claim()
          if (commands.length) return finish(commands)
        } while (wokenWhileClaiming && !settled)
        if (terminalWhileClaiming) finish([])
      } catch (error) {
        finish(error instanceof Error ? error : new Error('claim commands', { cause: error }))
      } finally {
        claiming = false
      }
    }
    const poll: WaitingPoll = {
      machineId: agent.machineId,
      tokenHash: agent.tokenHash,
      wake: () => void tryClaim(),
      // Nothing claimed is on its way into this answer: the command is the answer, from memory.
      offer: (queued) => {
        if (settled || claiming || signal.aborted) return false
        finish([queued.command])
        markSent(ctx, agent.machineId, [queued])
        return true
      },
      // Claimed commands must not be dropped: while a claim runs, answer when it returns.
      deliverTerminal: () => {
        if (claiming) terminalWhileClaiming = true
        else finish([])
      },
      revoke: (reason) => finish(new AgentUnauthorizedError(reason)),
      release: () => finish([], true),
    }
    const onAbort = () => finish([])
    const timer = setTimeout(() => finish([]), ctx.config.agentChannel.longPollTimeoutMs)
    signal.addEventListener('abort', onAbort)
    hub.attachPoll(poll)
    // Terminal traffic or a command may have been queued between the first claim and attaching.
    if (hub.terminalPending(agent.machineId)) return finish([])
    if (claimFirst) void tryClaim()
  })
}
