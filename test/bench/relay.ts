// Relay latency, side by side for WebSocket and long-poll agents:
//   chat -> agent:   POST /sessions/{id}/chat until the agent holds session.input
//   agent -> SSE:    the agent sends one output record until the browser's SSE stream has it
// Run: bun test/bench/relay.ts [--rounds N]   (defaults: 300 rounds per transport; loopback only)
// DATABASE_URL=postgres://... runs it on Postgres instead of PGlite. chat->agent ends when the
// command frame reaches the agent; "chat answered" when the chat request's answer does. On PGlite
// a second table profiles the request: its statements, their time, and the rest (HTTP, auth, JSON);
// on Postgres it counts the statements sent.
import { eq, max } from 'drizzle-orm'
import type { CommandOf } from '../../protocol/index.ts'
import { sessionOutput } from '../../server/db/schema/index.ts'
import { FakeAgent, registerMachine } from '../support/fake-agent.ts'
import { createUser, startTestServer } from '../support/server.ts'
import { SseParser } from '../support/sse.ts'

const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 300
/**
 * back-to-back: the next message goes the moment the browser has the last output, while that
 * output's write (and the agent's ack) may still hold the database; paced: it waits until the
 * output is stored, as a person reading the answer would.
 */
const PACES = ['back-to-back', 'paced'] as const
type Pace = (typeof PACES)[number]
const WARMUP = 20

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!
}
const ms = (x: number) => `${x.toFixed(2)} ms`

const server = await startTestServer({ listen: true, env: { LOG_LEVEL: 'error' } })

/**
 * The profile: on PGlite, every statement the server runs is counted and timed while a chat
 * request is in flight (the embedded database runs in this process, one statement at a time).
 */
const dbTime = { on: false, statements: 0, ms: 0 }
type Queryable = { query: (...args: unknown[]) => Promise<unknown> }
function timeQueries(target: Queryable) {
  const query = target.query.bind(target)
  target.query = async (...args: unknown[]) => {
    if (!dbTime.on) return query(...args)
    const t = performance.now()
    try {
      return await query(...args)
    } finally {
      dbTime.statements++
      dbTime.ms += performance.now() - t
    }
  }
}
type TransactionFn = (fn: (tx: Queryable) => Promise<unknown>) => Promise<unknown>
const pglite = (server.ctx.database as unknown as { client?: Queryable & { transaction: TransactionFn } })
  .client
if (server.ctx.database.kind === 'pglite' && pglite) {
  timeQueries(pglite)
  const transaction = pglite.transaction.bind(pglite)
  pglite.transaction = (fn) =>
    transaction((tx) => {
      timeQueries(tx)
      return fn(tx)
    })
}
// On Postgres the statements are counted where drizzle renders each one (their time is spent
// in the server process, outside this one).
type Renderer = { sqlToQuery: (...args: unknown[]) => unknown }
const dialect = (server.ctx.db as unknown as { dialect?: Renderer }).dialect
if (server.ctx.database.kind === 'postgres' && dialect) {
  const render = dialect.sqlToQuery.bind(dialect)
  dialect.sqlToQuery = (...args: unknown[]) => {
    if (dbTime.on) dbTime.statements++
    return render(...args)
  }
}
const admin = await server.login()
const user = await createUser(server, admin, 'bench')
const results: Array<{
  transport: string
  pace: Pace
  chat: number[]
  answered: number[]
  sse: number[]
  statements: number[]
  dbMs: number[]
}> = []

// Baseline: one authenticated request-response on the same server (session lookup included).
const baseline: number[] = []
for (let i = 0; i < rounds + WARMUP; i++) {
  const t0 = performance.now()
  await (await server.request('/api/auth/me', { cookie: user.cookie })).arrayBuffer()
  if (i >= WARMUP) baseline.push(performance.now() - t0)
}

for (const transport of ['websocket', 'long_poll'] as const) {
  const reg = await registerMachine(server.request, admin)
  await server.request(`/api/remote/machines/${reg.machineId}/assign`, {
    method: 'POST',
    cookie: admin,
    json: { user_id: user.id, permission: 'user' },
  })
  const agent = new FakeAgent({ url: server.url, token: reg.agentToken, machineId: reg.machineId, transport })
  await agent.connect()
  for (let i = 0; i < 200; i++) {
    const m = (await (
      await server.request(`/api/remote/machines/${reg.machineId}`, { cookie: admin })
    ).json()) as { status: string }
    if (m.status === 'online') break
    await Bun.sleep(25)
  }
  const created = (await (
    await server.request('/api/remote/sessions', {
      method: 'POST',
      cookie: user.cookie,
      json: { machine_id: reg.machineId, project_path: '/tmp' },
    })
  ).json()) as { session: { session_id: string } }
  const id = created.session.session_id
  await agent.waitForCommand('session.start')
  await agent.send({ type: 'session.started', session_id: id })
  await Bun.sleep(50)

  const stream = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: user.cookie })
  const reader = stream.body!.pipeThrough(new TextDecoderStream()).getReader()
  const parser = new SseParser()
  const seen = new Map<number, number>()
  void (async () => {
    for (let r = await reader.read(); !r.done; r = await reader.read()) {
      for (const ev of parser.push(r.value))
        if (ev.event === 'output') seen.set(Number(ev.id), performance.now())
    }
  })()

  /** Whether output seq `seq` is stored (the SSE stream had it from memory before). */
  const stored = async (seq: number) => {
    const [row] = await server.ctx.db
      .select({ last: max(sessionOutput.seq) })
      .from(sessionOutput)
      .where(eq(sessionOutput.sessionId, id))
    return (row?.last ?? -1) >= seq
  }
  let next = 0
  for (const pace of PACES) {
    const chat: number[] = []
    /** Where chat->agent goes: until the chat request is answered (stored, queued, committed). */
    const answered: number[] = []
    const sse: number[] = []
    const statements: number[] = []
    const dbMs: number[] = []
    for (let round = 0; round < rounds + WARMUP; round++) {
      const i = next++
      // The agent's side resolves on the frame itself, so chat->agent is the command's arrival.
      const arrived = agent
        .waitFor(
          () =>
            agent.commands.find(
              (c) => c.type === 'session.input' && (c as CommandOf<'session.input'>).content === `m${i}`,
            ),
          5000,
        )
        .then(() => performance.now())
      Object.assign(dbTime, { on: true, statements: 0, ms: 0 })
      const t0 = performance.now()
      await (
        await server.request(`/api/remote/sessions/${id}/chat`, {
          method: 'POST',
          cookie: user.cookie,
          json: { content: `m${i}` },
        })
      ).arrayBuffer()
      const tAnswered = performance.now()
      dbTime.on = false
      const t1 = await arrived
      await agent.send({
        type: 'session.output',
        session_id: id,
        records: [{ seq: i, stream: 'stdout', data: `r${i}`, ts: new Date().toISOString() }],
      })
      while (!seen.has(i)) await Bun.sleep(0)
      if (pace === 'paced') while (!(await stored(i))) await Bun.sleep(0)
      if (round >= WARMUP) {
        chat.push(t1 - t0)
        answered.push(tAnswered - t0)
        sse.push(seen.get(i)! - t1)
        statements.push(dbTime.statements)
        dbMs.push(dbTime.ms)
      }
    }
    results.push({ transport, pace, chat, answered, sse, statements, dbMs })
  }
  await reader.cancel()
  await agent.close()
}

console.log(`relay latency over ${rounds} rounds per transport (loopback, ${server.ctx.database.kind})`)
console.log(`baseline GET /api/auth/me: p50 ${ms(pct(baseline, 50))}, p99 ${ms(pct(baseline, 99))}`)
const ratio = (x: number) => `${(x / pct(baseline, 50)).toFixed(1)}x`
console.log(
  'transport   | pace         | chat->agent p50 | p99       | agent->SSE p50 | p99       | chat p50 / baseline | SSE p50 / baseline | chat answered p50',
)
for (const r of results) {
  console.log(
    `${r.transport.padEnd(11)} | ${r.pace.padEnd(12)} | ${ms(pct(r.chat, 50)).padEnd(15)} | ${ms(pct(r.chat, 99)).padEnd(9)} | ${ms(pct(r.sse, 50)).padEnd(14)} | ${ms(pct(r.sse, 99)).padEnd(9)} | ${ratio(pct(r.chat, 50)).padEnd(19)} | ${ratio(pct(r.sse, 50)).padEnd(18)} | ${ms(pct(r.answered, 50))}`,
  )
}
const onPglite = server.ctx.database.kind === 'pglite'
console.log(
  `\nprofile of the chat request (${onPglite ? 'PGlite statements run' : 'statements sent to Postgres'} while it is in flight)`,
)
console.log(`transport   | pace         | statements p50 | database time p50 | rest of the request p50`)
for (const r of results) {
  const rest = r.answered.map((a, i) => a - r.dbMs[i]!)
  console.log(
    `${r.transport.padEnd(11)} | ${r.pace.padEnd(12)} | ${String(pct(r.statements, 50)).padEnd(14)} | ${(onPglite ? ms(pct(r.dbMs, 50)) : 'n/a').padEnd(17)} | ${onPglite ? ms(pct(rest, 50)) : 'n/a'}`,
  )
}
await server.stop()
process.exit(0)
