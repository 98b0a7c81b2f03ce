// This instance's live agent channels: at most one WebSocket and one waiting long-poll per
// machine. A command queued here goes to the channel from memory (offerLocal); NOTIFYs from any
// instance wake them to claim: a queued command is delivered at once, a revoked token cuts the
// channel at once (goodbye + close, or 401 to the waiting poll).
// Terminal traffic goes to the machine's WebSocket here, else into its long-poll queue here.
import { CLOSE_SERVER_SHUTDOWN, CLOSE_SUPERSEDED, type GoodbyeReason } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { COMMANDS_CHANNEL, type QueuedCommand } from './commands.ts'
import { identifyAgent } from './guard.ts'
import { PollTerminalQueues } from './poll-terminal.ts'
import { sweepSilentMachines } from './presence.ts'

export const CONTROL_CHANNEL = 'oa_agent_control'
/** How soon after an answer the agent's next waiting request counts as its re-poll. */
const QUICK_REPOLL_MS = 2000

/** A WebSocket (or other push channel) to one agent. */
export interface PushChannel {
  machineId: string
  tokenHash: string
  /** Deliver whatever is pending for this machine. */
  wake(): void
  /**
   * Send this just-queued command now, from memory, if nothing the channel claims or will claim
   * could come before it; false leaves it to a claim.
   */
  offer(queued: QueuedCommand): boolean
  /** A binary message straight to the agent (terminal traffic; not queued, not durable). */
  sendBinary(data: Uint8Array): void
  /** The token stopped working: say goodbye and close. */
  revoke(reason: GoodbyeReason): void
  /** A newer channel of the same machine replaced this one (4002), or the server is stopping (1001). */
  close(code: number, reason: string): void
}

/** A long-poll request waiting for commands. */
export interface WaitingPoll {
  machineId: string
  tokenHash: string
  wake(): void
  /** Answer with this just-queued command unless a claim runs (as PushChannel.offer). */
  offer(queued: QueuedCommand): boolean
  /** Terminal traffic is queued for the machine: answer now (after a claim in progress). */
  deliverTerminal(): void
  revoke(reason: GoodbyeReason): void
  /** Answer now with nothing (superseded or shutting down). */
  release(): void
}

export interface ChannelHub {
  ready: Promise<void>
  attachPush(channel: PushChannel): void
  detachPush(channel: PushChannel): void
  attachPoll(poll: WaitingPoll): void
  detachPoll(poll: WaitingPoll): void
  /** Wakes this instance's channels of the machine; false when it holds none (then NOTIFY). */
  wakeLocal(machineId: string): boolean
  /**
   * A command queued and committed here: sent by this instance's channel of the machine from
   * memory when every older pending command of the machine was too (else the channel claims);
   * false when it holds none (then NOTIFY).
   */
  offerLocal(machineId: string, queued: QueuedCommand): boolean
  /** This instance's WebSocket to the machine's agent, if it holds one. */
  pushFor(machineId: string): PushChannel | undefined
  /**
   * Where terminal messages for the machine's agent go from this instance: its WebSocket, or
   * its long-poll queue (answered at once); undefined when neither is here.
   */
  terminalTo(machineId: string): ((data: Uint8Array) => void) | undefined
  /** A long-poll request of the machine arrived or ended here. */
  pollSeen(machineId: string): void
  /** The next batch of terminal messages for a long-poll agent, in order. */
  takeTerminal(machineId: string, maxItems: number): Uint8Array[]
  terminalPending(machineId: string): boolean
  /**
   * The machine's waiting request here was just answered with terminal traffic or with every
   * command there was to hand over (fewer than a full delivery).
   */
  noteAnswer(machineId: string): void
  /**
   * True for the waiting request that follows such an answer when no command wake came between
   * (consumed by the call): it may wait without claiming first, so a keystroke or a chat
   * message costs no claim on the way back.
   */
  quickRepoll(machineId: string): boolean
  /** Called with the machine id whenever a channel that carries terminals comes or goes here. */
  onPushChange(fn: (machineId: string) => void): void
  closing: boolean
}

/** The instance's hub (ctx.state.channelHub): two LISTENs and the presence sweeper. */
export function createChannelHub(ctx: AppContext): ChannelHub {
  const pushes = new Map<string, PushChannel>()
  const polls = new Map<string, WaitingPoll>()
  const pollTerminal = new PollTerminalQueues(() => ctx.now().getTime())
  /** When a waiting request was answered (noteAnswer), and whether a wake came since. */
  const terminalAnswers = new Map<string, { at: number; missedWake: boolean }>()
  const pushListeners: Array<(machineId: string) => void> = []
  const pushChanged = (machineId: string) => {
    for (const fn of pushListeners) fn(machineId)
  }

  async function recheck(machineId: string) {
    const targets: Array<PushChannel | WaitingPoll> = [pushes.get(machineId), polls.get(machineId)].filter(
      (x): x is PushChannel | WaitingPoll => x !== undefined,
    )
    for (const target of targets) {
      const identity = await identifyAgent(ctx, target.tokenHash)
      if (typeof identity === 'string') target.revoke(identity)
    }
  }

  function wakeLocal(machineId: string): boolean {
    const push = pushes.get(machineId)
    const poll = polls.get(machineId)
    push?.wake()
    poll?.wake()
    const answered = terminalAnswers.get(machineId)
    if (answered && !poll) answered.missedWake = true
    return push !== undefined || poll !== undefined
  }

  function offerLocal(machineId: string, queued: QueuedCommand): boolean {
    const push = pushes.get(machineId)
    const poll = polls.get(machineId)
    // An older command still pending that was not sent from memory (or acked) here is a claim's
    // to send first (queued elsewhere, or left over): then this one goes through the claim after it.
    const { deliveryMarks: marks, commandAcks: acks } = ctx.state
    const first = queued.olderPending?.every((id) => marks.has(id) || acks.has(id)) ?? false
    if (first && (push ? push.offer(queued) : poll?.offer(queued))) return true
    return wakeLocal(machineId)
  }

  const hub: ChannelHub = {
    wakeLocal,
    offerLocal,
    closing: false,
    ready: Promise.all([
      ctx.database.listen(COMMANDS_CHANNEL, (machineId) => {
        wakeLocal(machineId)
      }),
      ctx.database.listen(CONTROL_CHANNEL, (machineId) => {
        void recheck(machineId).catch((error) => ctx.log.warn('agent token recheck failed', { error }))
      }),
    ]).then((unlistens) => {
      for (const unlisten of unlistens) ctx.onClose(unlisten)
    }),
    attachPush(channel) {
      const previous = pushes.get(channel.machineId)
      pushes.set(channel.machineId, channel)
      pollTerminal.drop(channel.machineId)
      previous?.close(CLOSE_SUPERSEDED, 'superseded')
      pushChanged(channel.machineId)
    },
    detachPush(channel) {
      if (pushes.get(channel.machineId) !== channel) return
      pushes.delete(channel.machineId)
      pushChanged(channel.machineId)
    },
    pushFor: (machineId) => pushes.get(machineId),
    terminalTo(machineId) {
      const push = pushes.get(machineId)
      if (push) return (data) => push.sendBinary(data)
      if (!pollTerminal.reachable(machineId, polls.has(machineId))) return undefined
      return (data) => {
        if (!pollTerminal.push(machineId, data)) {
          ctx.log.warn('terminal traffic for a long-poll agent dropped: its queue is full', {
            machine_id: machineId,
            bytes: data.length,
          })
          return
        }
        polls.get(machineId)?.deliverTerminal()
      }
    },
    pollSeen(machineId) {
      // A long-poll channel new here (the agent fell back, or this server restarted): watched
      // terminals are reopened on it, as when a WebSocket attaches.
      if (!pushes.has(machineId) && pollTerminal.seen(machineId)) pushChanged(machineId)
    },
    takeTerminal: (machineId, maxItems) => pollTerminal.take(machineId, maxItems),
    terminalPending: (machineId) => pollTerminal.pending(machineId),
    noteAnswer(machineId) {
      terminalAnswers.set(machineId, { at: ctx.now().getTime(), missedWake: false })
    },
    quickRepoll(machineId) {
      const answered = terminalAnswers.get(machineId)
      terminalAnswers.delete(machineId)
      return (
        answered !== undefined &&
        !answered.missedWake &&
        !polls.has(machineId) &&
        ctx.now().getTime() - answered.at <= QUICK_REPOLL_MS
      )
    },
    onPushChange(fn) {
      pushListeners.push(fn)
    },
    attachPoll(poll) {
      const previous = polls.get(poll.machineId)
      polls.set(poll.machineId, poll)
      pollTerminal.touch(poll.machineId)
      previous?.release()
    },
    detachPoll(poll) {
      if (polls.get(poll.machineId) !== poll) return
      polls.delete(poll.machineId)
      // A request held for the whole poll timeout leaves the channel as alive as it came.
      pollTerminal.touch(poll.machineId)
    },
  }

  const sweepMs = ctx.config.agentChannel.heartbeatIntervalSeconds * 1000
  const sweeper = setInterval(() => {
    void sweepSilentMachines(ctx).catch((error) => ctx.log.warn('presence sweep failed', { error }))
  }, sweepMs)
  ctx.onClose(() => {
    hub.closing = true
    clearInterval(sweeper)
    for (const poll of [...polls.values()]) poll.release()
    for (const push of [...pushes.values()]) push.close(CLOSE_SERVER_SHUTDOWN, 'server shutting down')
  })
  return hub
}

/** Tells every instance to re-check the machine's channels (its token was revoked or rotated). */
export async function notifyAgentControl(ctx: AppContext, machineId: string) {
  await ctx.database.notify(CONTROL_CHANNEL, machineId)
}
