// Everything one server instance keeps in memory (hubs, caches, registries, buffers), in one
// table: each slot is made by its capability's factory on first use (an instance that never
// sees an agent opens no agent LISTENs) and kept on the app context, so several instances in
// one process never share state. A factory that starts timers or listeners registers their
// end with ctx.onClose, so ctx.close() ends them all, newest first. ctx.peek(slot) reads a slot
// only if it was made: publishing to local watchers must not open a LISTEN nobody needs.
import { type AccessCache, createAccessCache } from '../access/cache.ts'
import { type AccessEventRegistry, createAccessEventRegistry } from '../access/events.ts'
import { createRevocationHandlers, type RevocationHandlers } from '../access/revoke.ts'
import { type AgentAdmission, createAgentAdmission } from '../agents/admission.ts'
import { type CommandWriteBuffer, createAckBuffer, createDeliveryMarks } from '../agents/commands.ts'
import { type ChannelHub, createChannelHub } from '../agents/hub.ts'
import { createOutputPacer, type OutputPacer } from '../agents/output-pace.ts'
import { createHeartbeatBuffer, type HeartbeatBuffer } from '../agents/presence.ts'
import { type CommandResultWaiters, createCommandResultWaiters } from '../agents/results.ts'
import { createApiKeyDataKey } from '../api-keys/crypto.ts'
import { type ApiKeyCache, createApiKeyCache } from '../api-keys/service.ts'
import { type ChangesEventRegistry, createChangesEventRegistry } from '../changes/events.ts'
import { createQueryKeyTable, type QueryKeyTable } from '../http/query-keys.ts'
import { createLiveChangeRegistry, type LiveChangeRegistry } from '../live/bus.ts'
import { createKeyHealthTable, type KeyHealthTable } from '../llm-proxy/key-health.ts'
import { createModelListCache, type ModelListCache } from '../llm-proxy/models.ts'
import { createEndpointCheck, type EndpointCheck } from '../llm-proxy/proxy.ts'
import { createTokenState, type TokenState } from '../llm-proxy/tokens.ts'
import { createInstruments, type Instruments } from '../metrics/instruments.ts'
import { createOidcDiscovery, type OidcDiscovery } from '../oidc/client.ts'
import { createLedger, type Ledger } from '../quota/ledger.ts'
import { createUsageReportWindows, type UsageReportWindows } from '../quota/reports.ts'
import {
  createLeaseState,
  createQuotaLimitCache,
  createSyncedCounters,
  type LeaseState,
  type QuotaLimitCache,
  type SyncedCounters,
} from '../quota/service.ts'
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
  /** access/cache.ts: logins and session standings the chat fast path authorizes from. */
  readonly accessCache: AccessCache
  /** agents/hub.ts: this instance's agent channels, their LISTENs and the presence sweeper. */
  readonly channelHub: ChannelHub
  /** agents/admission.ts: the agent connection cap and who holds a slot. */
  readonly agentAdmission: AgentAdmission
  /** agents/output-pace.ts: each machine's output token bucket. */
  readonly outputPacer: OutputPacer
  /** agents/presence.ts: heartbeats waiting for the next batched write. */
  readonly heartbeats: HeartbeatBuffer
  /** agents/commands.ts: command acks waiting for the next batched write. */
  readonly commandAcks: CommandWriteBuffer
  /** agents/commands.ts: commands sent from memory whose delivery mark waits for the next batch. */
  readonly deliveryMarks: CommandWriteBuffer
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
  /** llm-proxy/tokens.ts: the proxy-token signing key and verified tokens (one LISTEN). */
  readonly proxyTokens: TokenState
  /** llm-proxy/proxy.ts: the endpoints forwarded, and the answers so far. */
  readonly endpointCheck: EndpointCheck
  /** llm-proxy/key-health.ts: how each provider key has been doing here. */
  readonly keyHealth: KeyHealthTable
  /** llm-proxy/models.ts: each key's model list. */
  readonly modelLists: ModelListCache
  /** api-keys/service.ts: the decrypted enabled keys (one LISTEN). */
  readonly apiKeys: ApiKeyCache
  /** api-keys/crypto.ts: the key that seals provider API keys. */
  readonly apiKeyDataKey: Promise<CryptoKey>
  /** quota/service.ts: cached limits (one LISTEN). */
  readonly quotaLimits: QuotaLimitCache
  /** quota/service.ts: counters synced from the ledger since the limits last changed. */
  readonly quotaSynced: SyncedCounters
  /** quota/service.ts: this instance's leases on the shared counters, and their sync timer. */
  readonly quotaLeases: LeaseState
  /** quota/ledger.ts: usage recorded here, not yet written. */
  readonly usageLedger: Ledger
  /** quota/reports.ts: each machine's usage-report rate window. */
  readonly usageReportWindows: UsageReportWindows
  /** oidc/client.ts: the provider's discovered configuration. */
  readonly oidcDiscovery: OidcDiscovery
  /** quota/warnings.ts: users' usage as last read for the 80% warning, and warnings settled. */
  readonly quotaWarnings: QuotaWarningState
}

type Factories = { readonly [K in keyof ServerState]: (ctx: AppContext) => ServerState[K] }

const FACTORIES: Factories = {
  metrics: createInstruments,
  queryKeys: createQueryKeyTable,
  revocations: createRevocationHandlers,
  accessEvents: createAccessEventRegistry,
  accessCache: createAccessCache,
  channelHub: createChannelHub,
  agentAdmission: createAgentAdmission,
  outputPacer: createOutputPacer,
  heartbeats: createHeartbeatBuffer,
  commandAcks: createAckBuffer,
  deliveryMarks: createDeliveryMarks,
  commandResults: createCommandResultWaiters,
  sessionEvents: createSessionEventRegistry,
  changesEvents: createChangesEventRegistry,
  terminalRelay: createTerminalRelay,
  liveChanges: createLiveChangeRegistry,
  proxyTokens: createTokenState,
  endpointCheck: createEndpointCheck,
  keyHealth: createKeyHealthTable,
  modelLists: createModelListCache,
  apiKeys: createApiKeyCache,
  apiKeyDataKey: createApiKeyDataKey,
  quotaLimits: createQuotaLimitCache,
  quotaSynced: createSyncedCounters,
  quotaLeases: createLeaseState,
  usageLedger: createLedger,
  usageReportWindows: createUsageReportWindows,
  oidcDiscovery: createOidcDiscovery,
  quotaWarnings: createQuotaWarningState,
}

/** A slot if it has been made, without making it (a publisher with no local watchers). */
export function peekServerState<K extends keyof ServerState>(
  state: ServerState,
  slot: K,
): ServerState[K] | undefined {
  const made = Object.getOwnPropertyDescriptor(state, slot)
  return made && 'value' in made ? (made.value as ServerState[K]) : undefined
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
