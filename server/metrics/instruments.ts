// The server's metrics, one set per server instance (ctx.state.metrics: several app instances
// in one test process must not mix). Capabilities update them where the event happens; GET /metrics renders them.
import type { AppContext } from '../context/index.ts'
import { Registry } from './registry.ts'

/** Seconds; command delivery is expected in milliseconds, a slow one still lands in a bucket. */
const DELIVERY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
/** Seconds; the proxy's own work should stay under a few milliseconds. */
const PROXY_ADDED_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]

/** The instance's metrics; made once per AppContext (context/state.ts). */
export function createInstruments() {
  const registry = new Registry()
  return {
    registry,
    agentConnections: registry.gauge(
      'openace_agent_connections',
      'Agents with a live channel on this instance (open WebSockets, machines with a long-poll in flight).',
      ['transport'],
    ),
    agentConnectionsCurrent: registry.gauge(
      'openace_agent_connections_current',
      'Agent connections counted against the admission cap on this instance.',
    ),
    agentConnectionCap: registry.gauge(
      'openace_agent_connection_cap',
      'Most agent connections this instance admits (open-file limit minus reserve, or AGENT_MAX_CONNECTIONS).',
    ),
    admissionRejections: registry.counter(
      'openace_agent_admission_rejections_total',
      'Agent upgrades and long-polls refused with 503 because the connection cap was reached.',
      ['transport'],
    ),
    heartbeats: registry.counter(
      'openace_agent_heartbeats_total',
      'Agent heartbeats received on this instance.',
    ),
    heartbeatFlushes: registry.counter(
      'openace_db_heartbeat_flushes_total',
      'Batched UPDATE statements that wrote buffered heartbeats to the database (one per flush and chunk).',
    ),
    heartbeatRowsFlushed: registry.counter(
      'openace_db_heartbeat_rows_total',
      'Machine rows written by heartbeat flushes (several heartbeats of one machine in a flush count once).',
    ),
    commandsQueued: registry.counter('openace_agent_commands_queued_total', 'Commands queued for agents.'),
    commandDelivery: registry.histogram(
      'openace_agent_command_delivery_seconds',
      'Time from a command being queued to its first hand-over to an agent channel.',
      DELIVERY_BUCKETS,
    ),
    proxyRequests: registry.counter(
      'openace_llm_proxy_requests_total',
      'LLM proxy requests by provider and the status returned to the client (499: client went away).',
      ['provider', 'status'],
    ),
    proxyAddedLatency: registry.histogram(
      'openace_llm_proxy_added_latency_seconds',
      'Time spent in the proxy itself: request arrival to upstream request start (token check, reading the request body, quota, key lookup), plus upstream response headers to the response handed to the client (for complete bodies up to 256 KB this includes reading that body).',
      PROXY_ADDED_BUCKETS,
      ['provider'],
    ),
    proxyTokens: registry.counter(
      'openace_llm_proxy_tokens_total',
      'Tokens counted by the LLM proxy (as charged to the usage ledger), by provider and direction.',
      ['provider', 'direction'],
    ),
    sseSubscribers: registry.gauge(
      'openace_sse_subscribers',
      'Browser Server-Sent Events streams of sessions open on this instance.',
    ),
    processRss: registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', [], () =>
      process.memoryUsage.rss(),
    ),
    processUptime: registry.gauge('process_uptime_seconds', 'Seconds since the process started.', [], () =>
      process.uptime(),
    ),
  }
}

export type Instruments = ReturnType<typeof createInstruments>

/** Records first deliveries only: a redelivery after a reconnect is not queue latency. */
export function observeCommandDelivery(
  ctx: AppContext,
  rows: ReadonlyArray<{ attempts: number; createdAt: Date }>,
): void {
  const now = ctx.now().getTime()
  const histogram = ctx.state.metrics.commandDelivery
  for (const row of rows) if (row.attempts === 1) histogram.observe((now - row.createdAt.getTime()) / 1000)
}

/** One finished proxy request: its status and the tokens charged for it. */
export function countProxyRequest(
  ctx: AppContext,
  provider: string,
  status: number,
  inputTokens: number,
  outputTokens: number,
): void {
  const m = ctx.state.metrics
  m.proxyRequests.inc({ provider, status })
  if (inputTokens) m.proxyTokens.inc({ provider, direction: 'input' }, inputTokens)
  if (outputTokens) m.proxyTokens.inc({ provider, direction: 'output' }, outputTokens)
}
