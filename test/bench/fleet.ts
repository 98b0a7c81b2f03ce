// Fleet scale: N simulated agents (WebSocket, a share over long-poll) against ONE real server
// process, heartbeating at the default 30 s with random phase, while sessions stream output and
// fs.list commands go to random agents. Agents are spread over worker processes (each well under
// the 20,000-file limit). Per N: server RSS and memory per agent (against the idle RSS of the same
// run), command delivery p50/p99, heartbeat CPU (server CPU over a heartbeat-only window minus an
// idle window) and database writes per second (the server's heartbeat counters).
// Run: bun test/bench/fleet.ts [--n 1000,5000,10000,19000] [--postgres] [--long-poll-share 0.05]
//      (--postgres uses a fresh database under DATABASE_URL; default is embedded PGlite)
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { hashToken, newSecretToken } from '../../server/auth/tokens.ts'
import { openDatabase } from '../../server/db/index.ts'
import { migrateDatabase } from '../../server/db/migrate.ts'
import { agentTokens, remoteMachines, sessions } from '../../server/db/schema/index.ts'
import { dropTestDatabases } from '../support/database.ts'
import { freePort, REPO_ROOT, type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { cookieFrom } from '../support/server.ts'
import {
  bucketQuantile,
  COLUMNS,
  formatTable,
  mib,
  pct,
  procCpuSeconds,
  readMetrics,
  rssBytes,
} from './fleet-stats.ts'
import type { BenchAgent, FromWorker, ToWorker } from './fleet-worker.ts'

const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const SIZES = (arg('n') ?? '1000,5000,10000,19000')
  .split(',')
  .map(Number)
  .sort((a, b) => a - b)
const USE_POSTGRES = process.argv.includes('--postgres')
const LONG_POLL_SHARE = Number(arg('long-poll-share') ?? 0.05)
const STREAMING_SESSIONS = 50
const LINES_PER_SECOND = 20
const COMMANDS_PER_SECOND = 20
const HEARTBEAT_MS = 30_000
const AGENTS_PER_WORKER = 5000
const FD_RESERVE = 800
const IDLE_WINDOW_MS = 8000
const HEARTBEAT_WINDOW_MS = 15_000
const QUIET_COMMANDS_WINDOW_MS = 10_000
const LOAD_WINDOW_MS = 20_000
const CONNECT_WAIT_MS = 50_000

if (USE_POSTGRES && !process.env.DATABASE_URL) throw new Error('--postgres needs DATABASE_URL')
if (!USE_POSTGRES) delete process.env.DATABASE_URL
const maxN = SIZES[SIZES.length - 1]!

/** Machines, tokens and streaming sessions written before the server starts (registration is not measured). */
async function seed(env: Record<string, string>): Promise<BenchAgent[]> {
  const database = await openDatabase(
    env.DATABASE_URL ? { url: env.DATABASE_URL } : { dataDir: join(env.DATA_DIR!, 'pg') },
  )
  try {
    await migrateDatabase(database)
    const agents: BenchAgent[] = Array.from({ length: maxN }, (_, i) => ({
      id: crypto.randomUUID(),
      token: newSecretToken(),
      transport: LONG_POLL_SHARE > 0 && i % Math.round(1 / LONG_POLL_SHARE) === 1 ? 'long_poll' : 'websocket',
    }))
    for (let i = 0; i < agents.length; i += 1000) {
      const chunk = agents.slice(i, i + 1000)
      await database.db.insert(remoteMachines).values(
        chunk.map((a) => ({
          machineId: a.id,
          tenantId: 1,
          name: a.id,
          hostname: a.id,
          osType: 'linux',
          osVersion: '6',
          agentVersion: 'bench',
        })),
      )
      await database.db
        .insert(agentTokens)
        .values(chunk.map((a) => ({ tokenHash: hashToken(a.token), machineId: a.id })))
    }
    const streamers = agents.filter((a) => a.transport === 'websocket').slice(0, STREAMING_SESSIONS)
    const rows = await database.db
      .insert(sessions)
      .values(
        streamers.map((a) => ({
          tenantId: 1,
          userId: 1,
          remoteMachineId: a.id,
          projectPath: '/tmp',
          cliTool: 'qwen-code-cli',
          status: 'active' as const,
        })),
      )
      .returning({ id: sessions.id })
    streamers.forEach((a, i) => {
      a.sessionId = rows[i]!.id
    })
    return agents
  } finally {
    await database.close()
  }
}

interface Worker {
  proc: Subprocess
  inbox: FromWorker[]
}

const workers: Worker[] = []
const commandArrivals = new Map<string, number>()
let streamedRecords = 0
let commandSerial = 0
let server: ServerProcess | undefined

function spawnWorker(): Worker {
  const worker: Worker = { inbox: [], proc: undefined as unknown as Subprocess }
  worker.proc = Bun.spawn([process.execPath, join(import.meta.dir, 'fleet-worker.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, BUN_CONFIG_MAX_HTTP_REQUESTS: '4096' },
    stdio: ['ignore', 'inherit', 'inherit'],
    ipc(message: FromWorker) {
      if (message.type === 'command') commandArrivals.set(message.path, message.at)
      else if (message.type === 'streamed') streamedRecords += message.records
      else worker.inbox.push(message)
    },
  })
  return worker
}

async function connectAgents(url: string, batch: BenchAgent[]) {
  const perWorker = workers.map((): BenchAgent[] => [])
  for (const [i, a] of batch.entries()) perWorker[i % workers.length]!.push(a)
  for (const [i, agents] of perWorker.entries())
    workers[i]!.proc.send({ type: 'connect', url, agents, heartbeatMs: HEARTBEAT_MS } satisfies ToWorker)
  const deadline = Date.now() + CONNECT_WAIT_MS + 5000
  while (workers.some((w) => !w.inbox.length) && Date.now() < deadline) await Bun.sleep(100)
  const replies = workers.map((w) => w.inbox.shift()).filter((r) => r?.type === 'connected')
  return {
    ok: replies.reduce((s, r) => s + r!.ok, 0),
    failed: batch.length - replies.reduce((s, r) => s + r!.ok, 0),
    error: replies.find((r) => r!.firstError)?.firstError,
  }
}

/** One fs.list through the browse API to a random connected agent; resolves to its delivery time in ms. */
async function timedCommand(
  url: string,
  cookie: string,
  agent: BenchAgent,
  n: number,
): Promise<number | null> {
  const path = `/bench/${n}`
  const started = performance.timeOrigin + performance.now()
  const res = await fetch(`${url}/api/remote/machines/${agent.id}/browse?path=${encodeURIComponent(path)}`, {
    headers: { cookie },
  })
  await res.arrayBuffer()
  const at = commandArrivals.get(path)
  commandArrivals.delete(path)
  return res.ok && at !== undefined ? at - started : null
}

async function commandWindow(
  url: string,
  cookie: string,
  connected: BenchAgent[],
  streaming: boolean,
  windowMs: number,
) {
  if (streaming)
    for (const w of workers)
      w.proc.send({ type: 'stream', on: true, linesPerSecond: LINES_PER_SECOND } satisfies ToWorker)
  const delivery: number[] = []
  let failed = 0
  const inflight: Promise<void>[] = []
  const started = Date.now()
  for (let n = commandSerial; Date.now() - started < windowMs; n++, commandSerial++) {
    const agent = connected[Math.floor(Math.random() * connected.length)]!
    inflight.push(
      timedCommand(url, cookie, agent, n).then((ms) => {
        if (ms === null) failed++
        else delivery.push(ms)
      }),
    )
    await Bun.sleep(1000 / COMMANDS_PER_SECOND)
  }
  await Promise.all(inflight)
  if (streaming)
    for (const w of workers) w.proc.send({ type: 'stream', on: false, linesPerSecond: 0 } satisfies ToWorker)
  return { delivery, failed, seconds: (Date.now() - started) / 1000 }
}

async function main() {
  const env = await serverEnv({ LOG_LEVEL: 'error', AGENT_FD_RESERVE: String(FD_RESERVE) })
  // First start migrates and creates the admin (user 1, which owns the streaming sessions).
  await (await spawnServer({ env, port: await freePort() })).stop()
  const agents = await seed(env)
  server = await spawnServer({ env })
  const pid = server.proc.pid
  const login = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: env.OPENACE_ADMIN_PASSWORD }),
  })
  const cookie = cookieFrom(login)
  for (let i = 0; i < Math.max(2, Math.ceil(maxN / AGENTS_PER_WORKER)); i++) workers.push(spawnWorker())

  await Bun.sleep(2000)
  const idleRss = rssBytes(pid)
  const idleCpu0 = procCpuSeconds(pid)
  await Bun.sleep(IDLE_WINDOW_MS)
  const idleCpuShare = (procCpuSeconds(pid) - idleCpu0) / (IDLE_WINDOW_MS / 1000)
  console.log(
    `database ${USE_POSTGRES ? 'postgres' : 'pglite'}; ${workers.length} client processes; long-poll share ${LONG_POLL_SHARE}`,
  )
  console.log(`idle server: RSS ${mib(idleRss)}, CPU ${(idleCpuShare * 100).toFixed(1)}% of a core\n`)
  const table: string[][] = []

  let connected: BenchAgent[] = []
  for (const n of SIZES) {
    const t0 = Date.now()
    const batch = agents.slice(connected.length, n)
    const result = await connectAgents(server.url, batch)
    connected = agents.slice(0, n)
    const connectS = (Date.now() - t0) / 1000
    if (result.failed)
      console.log(`N=${n}: ${result.failed} agents did not connect (${result.error ?? 'timeout'})`)
    // Heartbeat-only window: heartbeats and presence, no output, no commands.
    const m0 = await readMetrics(server.url, cookie)
    const cpu0 = procCpuSeconds(pid)
    await Bun.sleep(HEARTBEAT_WINDOW_MS)
    const cpu1 = procCpuSeconds(pid)
    const m1 = await readMetrics(server.url, cookie)
    const rss = rssBytes(pid)
    const windowS = HEARTBEAT_WINDOW_MS / 1000
    const beats = m1.heartbeats - m0.heartbeats
    const hbCpuShare = Math.max(0, (cpu1 - cpu0) / windowS - idleCpuShare)
    const quiet = await commandWindow(server.url, cookie, connected, false, QUIET_COMMANDS_WINDOW_MS)
    const records0 = streamedRecords
    const m2a = await readMetrics(server.url, cookie)
    const loadCpu0 = procCpuSeconds(pid)
    const load = await commandWindow(server.url, cookie, connected, true, LOAD_WINDOW_MS)
    const loadCpu = (procCpuSeconds(pid) - loadCpu0) / load.seconds
    const m2 = await readMetrics(server.url, cookie)
    const writes = m2.flushes - m2a.flushes
    table.push([
      String(n),
      `${m1.websocket}/${m1.longPoll}`,
      mib(rss),
      `${((rss - idleRss) / n / 1024).toFixed(1)} KiB`,
      `${pct(quiet.delivery, 0.5).toFixed(1)} / ${pct(quiet.delivery, 0.99).toFixed(1)} ms`,
      `${pct(load.delivery, 0.5).toFixed(1)} / ${pct(load.delivery, 0.99).toFixed(1)} ms`,
      `${bucketQuantile(m1.delivery, m2a.delivery, 0.5)} / ${bucketQuantile(m1.delivery, m2a.delivery, 0.99)} ms`,
      `${quiet.delivery.length + load.delivery.length}/${quiet.failed + load.failed}`,
      (beats / windowS).toFixed(0),
      `${(hbCpuShare * 100).toFixed(1)}%`,
      beats ? ((hbCpuShare * windowS * 1e6) / beats).toFixed(0) : '-',
      `${((m1.flushes - m0.flushes) / windowS).toFixed(2)} (${(writes / load.seconds).toFixed(2)} under load)`,
      ((m2.rows - m0.rows) / Math.max(1, m2.flushes - m0.flushes)).toFixed(0),
      ((streamedRecords - records0) / load.seconds).toFixed(0),
      `${(loadCpu * 100).toFixed(0)}%`,
    ])
    console.log(
      `N=${n} done in ${((Date.now() - t0) / 1000).toFixed(0)} s (connect ${connectS.toFixed(1)} s)`,
    )
  }
  console.log(`\n${formatTable(COLUMNS, table)}`)
  console.log(
    `\nper agent = (server RSS - idle RSS) / N; deliv = browse request sent -> agent holds fs.list, quiet (heartbeats only) and while sessions stream; server queue->send = the server's delivery histogram (bucket bounds) in the quiet window; CPU streaming = server CPU (share of one core) in the streaming window; hb CPU = server CPU over a ${HEARTBEAT_WINDOW_MS / 1000} s heartbeat-only window minus idle; hb writes/s = batched heartbeat UPDATEs (unbatched it would equal hb/s)`,
  )
}

async function cleanup() {
  for (const w of workers) if (w.proc.exitCode === null) w.proc.send({ type: 'stop' } satisfies ToWorker)
  await Promise.race([Promise.all(workers.map((w) => w.proc.exited)), Bun.sleep(5000)])
  for (const w of workers) if (w.proc.exitCode === null) w.proc.kill('SIGKILL')
  if (server) await Promise.race([server.stop(), Bun.sleep(10_000).then(() => server!.stop('SIGKILL'))])
  if (USE_POSTGRES) await dropTestDatabases()
}

process.on('SIGINT', () => void cleanup().then(() => process.exit(130)))
try {
  await main()
} finally {
  await cleanup()
}
