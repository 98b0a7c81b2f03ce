// Agent channel benchmark: command delivery latency (queue -> agent has it) over WebSocket and
// over long-poll, against a baseline measured in the same run (a bare Bun WebSocket echo and an
// HTTP round trip to /api/health); then how many simulated agents one server holds and the
// memory per connection. Bounded: LATENCY_SAMPLES commands per transport, at most MAX_AGENTS sockets.
// Run: bun test/bench/channel.ts   (DATABASE_URL=... to run against Postgres)
import { queueCommand } from '../../server/agents/index.ts'
import { hashToken, newSecretToken } from '../../server/auth/tokens.ts'
import { agentTokens, remoteMachines } from '../../server/db/schema/index.ts'
import { dropTestDatabases } from '../support/database.ts'
import { FakeAgent, registerMachine } from '../support/fake-agent.ts'
import { startTestServer } from '../support/server.ts'

const LATENCY_SAMPLES = 300
const MAX_AGENTS = Number(process.env.BENCH_AGENTS ?? 2000)
const CONNECT_BATCH = 100

function stats(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b)
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
  return `p50 ${at(0.5).toFixed(2)} ms  p99 ${at(0.99).toFixed(2)} ms  (n=${sorted.length})`
}

async function baselineWebSocket(): Promise<number[]> {
  const echo = Bun.serve({
    port: 0,
    hostname: '127.0.0.1',
    fetch: (req, srv) => (srv.upgrade(req) ? undefined : new Response('no')),
    websocket: {
      message: (ws, m) => {
        ws.send(m)
      },
    },
  })
  const ws = new WebSocket(`ws://127.0.0.1:${echo.port}`)
  await new Promise((r) => (ws.onopen = r))
  const samples: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const started = performance.now()
    await new Promise<void>((resolve) => {
      ws.onmessage = () => resolve()
      ws.send('{"type":"ping"}')
    })
    samples.push(performance.now() - started)
  }
  ws.close()
  echo.stop(true)
  return samples
}

async function deliveryLatency(agent: FakeAgent, machineId: string, ctx: Parameters<typeof queueCommand>[0]) {
  const samples: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const started = performance.now()
    const cmd = await queueCommand(ctx, machineId, { type: 'fs.list', request_id: `r${i}`, path: '/' })
    await agent.waitFor(() => agent.commands.some((c) => c.id === cmd.id), 5000, 'command')
    samples.push(performance.now() - started)
  }
  return samples
}

const server = await startTestServer({ listen: true, env: { LOG_LEVEL: 'error' } })
try {
  const admin = await server.login()
  console.log(`database: ${server.database.kind}`)
  console.log(`baseline  bare Bun WebSocket echo          ${stats(await baselineWebSocket())}`)
  const health: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const started = performance.now()
    await (await fetch(`${server.url}/api/health`)).arrayBuffer()
    health.push(performance.now() - started)
  }
  console.log(`baseline  HTTP GET /api/health             ${stats(health)}`)

  for (const transport of ['websocket', 'long_poll'] as const) {
    const m = await registerMachine(server.request, admin)
    const agent = new FakeAgent({ url: server.url, token: m.agentToken, machineId: m.machineId, transport })
    await agent.connect()
    await agent.waitForFrame('welcome')
    const samples = await deliveryLatency(agent, m.machineId, server.ctx)
    console.log(`delivery  ${transport.padEnd(10)} queue -> agent       ${stats(samples)}`)
    await agent.close()
  }

  // Many agents: machines and tokens inserted directly (registration is not what is measured).
  const tokens = Array.from({ length: MAX_AGENTS }, () => ({
    id: crypto.randomUUID(),
    token: newSecretToken(),
  }))
  for (let i = 0; i < tokens.length; i += 500) {
    const chunk = tokens.slice(i, i + 500)
    await server.ctx.db.insert(remoteMachines).values(
      chunk.map((t) => ({
        machineId: t.id,
        tenantId: 1,
        name: t.id,
        hostname: t.id,
        osType: 'linux',
        osVersion: '6',
        agentVersion: 'bench',
      })),
    )
    await server.ctx.db
      .insert(agentTokens)
      .values(chunk.map((t) => ({ tokenHash: hashToken(t.token), machineId: t.id })))
  }
  Bun.gc(true)
  const before = process.memoryUsage().rss
  const agents: FakeAgent[] = []
  const started = performance.now()
  for (let i = 0; i < tokens.length; i += CONNECT_BATCH) {
    const batch = tokens.slice(i, i + CONNECT_BATCH).map(
      (t) =>
        new FakeAgent({
          url: server.url,
          token: t.token,
          machineId: t.id,
          transport: 'websocket',
          autoAck: true,
        }),
    )
    await Promise.all(batch.map((a) => a.connect()))
    await Promise.all(batch.map((a) => a.waitForFrame('welcome', 30_000)))
    agents.push(...batch)
  }
  const connectSeconds = (performance.now() - started) / 1000
  Bun.gc(true)
  const after = process.memoryUsage().rss
  const last = tokens[tokens.length - 1]!
  const probe = performance.now()
  await queueCommand(server.ctx, last.id, { type: 'fs.list', request_id: 'probe', path: '/' })
  await agents[agents.length - 1]!.waitForCommand('fs.list', 5000)
  console.log(
    `capacity  ${agents.length} WebSocket agents connected in ${connectSeconds.toFixed(1)} s; ` +
      `RSS +${((after - before) / 1024 / 1024).toFixed(1)} MiB = ${((after - before) / agents.length / 1024).toFixed(1)} KiB per connection ` +
      `(server and client sides, one process); a command to the last one took ${(performance.now() - probe).toFixed(2)} ms`,
  )
  for (let i = 0; i < agents.length; i += CONNECT_BATCH)
    await Promise.all(agents.slice(i, i + CONNECT_BATCH).map((a) => a.close()))
} finally {
  await server.stop()
  await dropTestDatabases()
}
