// This instance's live agent channels: at most one WebSocket and one waiting long-poll per
// machine. NOTIFYs from any instance wake them: a queued command is delivered at once, a
// revoked token cuts the channel at once (goodbye + close, or 401 to the waiting poll).
import { CLOSE_SERVER_SHUTDOWN, CLOSE_SUPERSEDED, type GoodbyeReason } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { COMMANDS_CHANNEL } from './commands.ts'
import { identifyAgent } from './guard.ts'
import { sweepSilentMachines } from './presence.ts'

export const CONTROL_CHANNEL = 'oa_agent_control'

/** A WebSocket (or other push channel) to one agent. */
export interface PushChannel {
  machineId: string
  tokenHash: string
  /** Deliver whatever is pending for this machine. */
  wake(): void
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
  /** This instance's WebSocket to the machine's agent, if it holds one. */
  pushFor(machineId: string): PushChannel | undefined
  /** Called with the machine id whenever its WebSocket on this instance comes or goes. */
  onPushChange(fn: (machineId: string) => void): void
  closing: boolean
}

/** The instance's hub (ctx.state.channelHub): two LISTENs and the presence sweeper. */
export function createChannelHub(ctx: AppContext): ChannelHub {
  const pushes = new Map<string, PushChannel>()
  const polls = new Map<string, WaitingPoll>()
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
    return push !== undefined || poll !== undefined
  }

  const hub: ChannelHub = {
    wakeLocal,
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
      previous?.close(CLOSE_SUPERSEDED, 'superseded')
      pushChanged(channel.machineId)
    },
    detachPush(channel) {
      if (pushes.get(channel.machineId) !== channel) return
      pushes.delete(channel.machineId)
      pushChanged(channel.machineId)
    },
    pushFor: (machineId) => pushes.get(machineId),
    onPushChange(fn) {
      pushListeners.push(fn)
    },
    attachPoll(poll) {
      const previous = polls.get(poll.machineId)
      polls.set(poll.machineId, poll)
      previous?.release()
    },
    detachPoll(poll) {
      if (polls.get(poll.machineId) === poll) polls.delete(poll.machineId)
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
