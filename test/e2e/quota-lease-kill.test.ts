// An instance killed without its shutdown (SIGKILL) gives nothing back, yet what it held on a
// user's quota counters must not stay reserved until the period ends: once its lease rows expire,
// the next instance to reserve reclaims them and the user can use the full limit again. On
// Postgres the survivor runs beside the killed server the whole time; on the embedded database
// (one process at a time) it is the restart on the same data directory.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { rmSync } from 'node:fs'
import { eq } from 'drizzle-orm'
import { loadConfig } from '../../server/config.ts'
import { quotaCounters, quotaLeases, sessions } from '../../server/db/schema/index.ts'
import { issueProxyToken } from '../../server/llm-proxy/tokens.ts'
import { createLogger } from '../../server/log.ts'
import { LEASE_TTL_MS } from '../../server/quota/leases.ts'
import { type PreparedServer, prepareServer } from '../../server/start.ts'
import { testClient, withCookie } from '../support/client.ts'
import { dropTestDatabase, TEST_DATABASE_URL } from '../support/database.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { proxyChat } from '../support/llm-proxy.ts'
import { serverEnv, spawnServer } from '../support/process.ts'
import { ADMIN_PASSWORD, cookieFrom, requestTo } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

const LIMIT = 1000
const USAGE = { input: 21, output: 13 }
const USED_PER_CALL = USAGE.input + USAGE.output
const smallBody = { model: 'm', max_tokens: 40, messages: [{ role: 'user', content: 'hi' }] }
const small = JSON.stringify(smallBody)
/** What the proxy reserves for a small call: max_tokens plus the body's size in tokens. */
const SMALL_RESERVATION = 40 + Math.ceil(small.length / 4)
/** Three of these in flight hold most of the limit. */
const big = { model: 'm', max_tokens: 280, messages: [{ role: 'user', content: 'hi' }] }
const STALLED = 3

type Instance = PreparedServer & { url: string }

let fake: FakeLlm
let env: Record<string, string>

beforeAll(async () => {
  fake = await startFakeLlm({ usage: USAGE })
  env = await serverEnv({ LOG_LEVEL: 'error' })
})
afterAll(async () => {
  await fake.close()
  rmSync(env.DATA_DIR!, { recursive: true, force: true })
  if (env.DATABASE_URL) await dropTestDatabase(new URL(env.DATABASE_URL).pathname.slice(1))
})

async function openInstance(): Promise<Instance> {
  const server = await prepareServer(loadConfig(env, { warn: () => {} }), {
    log: createLogger('error', () => {}),
  })
  server.app.listen({ hostname: '127.0.0.1', port: 0, idleTimeout: 60 })
  return { ...server, url: `http://127.0.0.1:${server.app.server!.port}` }
}

const closeInstance = (s: Instance) => s.close(() => s.app.stop(true))

/** A user with a daily token limit, a key at the fake upstream, a live session and its proxy token. */
async function limitedUser(s: Instance): Promise<{ userId: number; token: string }> {
  const { api } = testClient(s.app, s.url)
  const login = await api.auth.login.post({ username: 'admin', password: ADMIN_PASSWORD })
  const as = withCookie(cookieFrom(login.response))
  const key = await api.remote['api-keys'].post(
    { provider: 'openai', key_name: 'k', api_key: 'sk-quota-lease-kill', base_url: `${fake.url}/v1` },
    as,
  )
  expect(key.status).toBe(201)
  const user = await api.users.post({ username: 'leased', password: 'leased-password', role: 'user' }, as)
  const userId = user.data!.user.id
  expect((await api.quotas.users({ id: userId }).put({ daily_token_limit: LIMIT }, as)).status).toBe(200)
  const [session] = await s.ctx.db
    .insert(sessions)
    .values({ tenantId: 1, userId, projectPath: '/tmp/p', cliTool: 'qwen-code', status: 'active' })
    .returning({ id: sessions.id })
  const { token } = await issueProxyToken(s.ctx, {
    sessionId: session!.id,
    userId,
    machineId: null,
    tenantId: 1,
    provider: 'openai',
  })
  return { userId, token }
}

/** One chat call through the proxy of the server at `url`. */
const call = (url: string, token: string, body: unknown) =>
  proxyChat({ request: requestTo(url) }, token, body)

test('a killed instance holds calls on the quota counters; once its leases expire another instance reclaims them and the user has the full limit', async () => {
  let survivor: Instance | null = await openInstance()
  try {
    const { userId, token } = await limitedUser(survivor)
    if (!TEST_DATABASE_URL) {
      await closeInstance(survivor)
      survivor = null
    }

    // The doomed instance admits three big calls that stall upstream: most of the limit is held.
    const doomed = await spawnServer({ env })
    fake.setBehaviour({ usage: USAGE, stall: true })
    const stalled = Array.from({ length: STALLED }, () => call(doomed.url, token, big).catch(() => null))
    await waitUntil(() => fake.requests.length >= STALLED, { what: 'the stalled calls reached the upstream' })
    await doomed.stop('SIGKILL')
    await Promise.all(stalled)
    fake.setBehaviour({ usage: USAGE })

    survivor ??= await openInstance()
    const s = survivor
    // Past the dead instance's lease expiry (it never renews again).
    s.ctx.now = () => new Date(Date.now() + LEASE_TTL_MS + 5000)
    // Its heartbeat's sweep reclaims what the dead one held, before any call of the user.
    await waitUntil(
      async () => {
        const [row] = await s.ctx.db.select().from(quotaCounters).where(eq(quotaCounters.userId, userId))
        return row?.reserved === 0 && !(await s.ctx.db.select().from(quotaLeases)).length
      },
      { what: 'the dead instance leases reclaimed', timeoutMs: 15_000 },
    )
    let admitted = 0
    let refusal = ''
    for (let i = 0; i < LIMIT / USED_PER_CALL + 5; i++) {
      const res = await call(s.url, token, smallBody)
      const text = await res.text()
      if (res.status !== 200) {
        expect(res.status).toBe(429)
        refusal = text
        break
      }
      admitted++
    }
    expect(refusal).toContain('Daily token quota reached')
    // The whole limit again, to within one call (not what the stalled calls left).
    expect(admitted * USED_PER_CALL).toBeGreaterThanOrEqual(LIMIT - SMALL_RESERVATION)
  } finally {
    if (survivor) await closeInstance(survivor)
  }
}, 120_000)
