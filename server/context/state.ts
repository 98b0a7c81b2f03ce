// Everything one server instance keeps in memory (hubs, caches, registries, buffers), in one
// table: each slot is made by its capability's factory on first use (an instance that never
// sees an agent opens no agent LISTENs) and kept on the app context, so several instances in
// one process never share state. A factory that starts timers or listeners registers their
// end with ctx.onClose, so ctx.close() ends them all, newest first.
import { type AccessEventRegistry, createAccessEventRegistry } from '../access/events.ts'
import { createRevocationHandlers, type RevocationHandlers } from '../access/revoke.ts'
import { type AgentAdmission, createAgentAdmission } from '../agents/admission.ts'
import { type ChannelHub, createChannelHub } from '../agents/hub.ts'
import { createOutputPacer, type OutputPacer } from '../agents/output-pace.ts'
import { createHeartbeatBuffer, type HeartbeatBuffer } from '../agents/presence.ts'
import { type CommandResultWaiters, createCommandResultWaiters } from '../agents/results.ts'
import { type ChangesEventRegistry, createChangesEventRegistry } from '../changes/events.ts'
import { createQueryKeyTable, type QueryKeyTable } from '../http/query-keys.ts'
import { createLiveChangeRegistry, type LiveChangeRegistry } from '../live/bus.ts'
import { createInstruments, type Instruments } from '../metrics/instruments.ts'
import { createQuotaWarningState, type QuotaWarningState } from '../quota/warnings.ts'
import { createSessionEventRegistry, type SessionEventRegistry } from '../sessions/events.ts'
import { createTerminalRelay, type TerminalRelay } from '../terminals/relay.ts'
import type { AppContext } from './index.ts'

export interface ServerState {
  /** metrics/instruments.ts: the counters and gauges GET /metrics renders. */
  readonly metrics: Instruments
  /** http/query-keys.ts: each route's allowed query keys, learned once the app is composed. */
  readonly queryKeys: QueryKeyTable
  /** access/revoke.ts: how the sessions capability stops what a revocation took away. */
  readonly revocations: RevocationHandlers
  /** access/events.ts: this instance's `access.revoked` listeners (one LISTEN). */
  readonly accessEvents: AccessEventRegistry
  /** agents/hub.ts: this instance's agent channels, their LISTENs and the presence sweeper. */
  readonly channelHub: ChannelHub
  /** agents/admission.ts: the agent connection cap and who holds a slot. */
  readonly agentAdmission: AgentAdmission
  /** agents/output-pace.ts: each machine's output token bucket. */
  readonly outputPacer: OutputPacer
  /** agents/presence.ts: heartbeats waiting for the next batched write. */
  readonly heartbeats: HeartbeatBuffer
  /** agents/results.ts: requests waiting for a command's answer (one LISTEN). */
  readonly commandResults: CommandResultWaiters
  /** sessions/events.ts: this instance's session watchers (SSE streams), one LISTEN. */
  readonly sessionEvents: SessionEventRegistry
  /** changes/events.ts: this instance's changes-panel watchers, one LISTEN. */
  readonly changesEvents: ChangesEventRegistry
  /** terminals/relay.ts: browser terminal sockets paired with their agents' channels. */
  readonly terminalRelay: TerminalRelay
  /** live/bus.ts: this instance's admin-view live streams' listeners, one LISTEN. */
  readonly liveChanges: LiveChangeRegistry
  /** quota/warnings.ts: users' usage as last read for the 80% warning, and warnings settled. */
  readonly quotaWarnings: QuotaWarningState
}

type Factories = { readonly [K in keyof ServerState]: (ctx: AppContext) => ServerState[K] }

const FACTORIES: Factories = {
  metrics: createInstruments,
  queryKeys: createQueryKeyTable,
  revocations: createRevocationHandlers,
  accessEvents: createAccessEventRegistry,
  channelHub: createChannelHub,
  agentAdmission: createAgentAdmission,
  outputPacer: createOutputPacer,
  heartbeats: createHeartbeatBuffer,
  commandResults: createCommandResultWaiters,
  sessionEvents: createSessionEventRegistry,
  changesEvents: createChangesEventRegistry,
  terminalRelay: createTerminalRelay,
  liveChanges: createLiveChangeRegistry,
  quotaWarnings: createQuotaWarningState,
}

/** The instance's state: each slot is made on first read, then kept. */
export function createServerState(ctx: AppContext): ServerState {
  const state = {}
  for (const name of Object.keys(FACTORIES) as Array<keyof ServerState>) {
    Object.defineProperty(state, name, {
      enumerable: true,
      configurable: true,
      get() {
        const value = FACTORIES[name](ctx)
        Object.defineProperty(state, name, { value, enumerable: true, configurable: false, writable: false })
        return value
      },
    })
  }
  return state as ServerState
}
