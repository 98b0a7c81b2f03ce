// The HTTP long-poll transport (POST /api/remote/agent/message): the agent posts its frames and
// acks; the answer comes as soon as a command is pending, or empty after the poll timeout.
// Works on any runtime (web-standard Request/Response), so it is the Deno fallback too.
import type { Command, LongPollResponse, ReplyFrame } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { claimCommands } from './commands.ts'
import { type FrameReports, handleRawFrame } from './frames.ts'
import { type AgentIdentity, AgentUnauthorizedError } from './guard.ts'
import type { ChannelHub, WaitingPoll } from './hub.ts'
import { markConnected } from './presence.ts'

/** A command delivered in an answer the agent never acked is sent again after this long. */
export const LONG_POLL_REDELIVER_AFTER_MS = 30_000

export interface PollRequest {
  events: unknown[]
  wait?: boolean
}

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
  const replies: ReplyFrame[] = []
  let hello = false
  for (const event of body.events) {
    const outcome = await handleRawFrame(ctx, agent, event, reports, 'long_poll')
    replies.push(...outcome.replies)
    hello ||= outcome.hello === true
  }
  // A hello marked the machine online as it was stored (frames.ts); other polls keep it so.
  if (!hello) await markConnected(ctx, agent, 'long_poll')
  const deliveredBefore = () => new Date(ctx.now().getTime() - LONG_POLL_REDELIVER_AFTER_MS)
  // After a hello (agent restarted) everything unacked goes out again; otherwise only what is
  // pending, plus answers that were evidently lost.
  const claim = (first: boolean) =>
    claimCommands(ctx, agent.machineId, {
      redeliver: true,
      ...(first && hello ? {} : { deliveredBefore: deliveredBefore() }),
    })
  const commands = await claim(true)
  const answer = (cmds: Command[]): LongPollResponse => ({ commands: cmds, replies: mergeReceipts(replies) })
  // A welcome or an error is news the agent should have now, not after the poll timeout.
  const urgent = replies.some((r) => r.type !== 'received')
  if (commands.length || urgent || body.wait === false || hub.closing || signal.aborted)
    return answer(commands)
  return answer(await waitForCommands(ctx, hub, agent, signal, () => claim(false)))
}

/** Holds the request until a command is claimable, the timeout passes, or the token is revoked. */
function waitForCommands(
  ctx: AppContext,
  hub: ChannelHub,
  agent: AgentIdentity,
  signal: AbortSignal,
  claim: () => Promise<Command[]>,
): Promise<Command[]> {
  return new Promise((resolve, reject) => {
    let settled = false
    let claiming = false
    let wokenWhileClaiming = false
    const finish = (result: Command[] | Error) => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      hub.detachPoll(poll)
      if (result instanceof Error) reject(result)
      else resolve(result)
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
      revoke: (reason) => finish(new AgentUnauthorizedError(reason)),
      release: () => finish([]),
    }
    const onAbort = () => finish([])
    const timer = setTimeout(() => finish([]), ctx.config.agentChannel.longPollTimeoutMs)
    signal.addEventListener('abort', onAbort)
    hub.attachPoll(poll)
    // A command may have been queued between the first claim and attaching.
    void tryClaim()
  })
}
