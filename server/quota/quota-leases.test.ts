// Lease rows between two instances on one database: the next reservation on a counter reclaims
// what an instance that stopped renewing held, and an instance whose lease was reclaimed drops
// it instead of giving back what is no longer its own.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { and, eq } from 'drizzle-orm'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { type AppContext, createContext } from '../context/index.ts'
import { quotaCounters, quotaLeases } from '../db/schema/index.ts'
import { createLogger } from '../log.ts'
import { LEASE_TTL_MS } from './leases.ts'
import { type QuotaHold, reserveQuota, settleQuota } from './service.ts'

const LIMIT = 1000
/** Four of these take the whole limit, each exactly its estimate (a quarter of what is left). */
const BIG = 250

let server: TestServer
let userId: number

beforeAll(async () => {
  server = await startTestServer()
  const admin = await server.login()
  const created = await server.request('/api/users', {
    method: 'POST',
    cookie: admin,
    json: { username: 'leases', password: 'leases-password', role: 'user' },
  })
  userId = ((await created.json()) as { user: { id: number } }).user.id
  const put = await server.request(`/api/quotas/users/${userId}`, {
    method: 'PUT',
    cookie: admin,
    json: { daily_token_limit: LIMIT },
  })
  expect(put.status).toBe(200)
})
afterAll(() => server.stop())

/** Another server instance on the same database (its own id, leases and clock). */
const instance = (): AppContext =>
  createContext(
    server.ctx.config,
    server.database,
    createLogger('error', () => {}),
  )

async function holdOf(ctx: AppContext, estimate: number): Promise<QuotaHold> {
  const r = await reserveQuota(ctx, userId, 1, estimate)
  if (!('hold' in r) || !r.hold) throw new Error(`not admitted: ${JSON.stringify(r)}`)
  return r.hold
}

const counter = async () =>
  (await server.ctx.db.select().from(quotaCounters).where(eq(quotaCounters.userId, userId)))[0]!
const leaseOf = async (ctx: AppContext) =>
  (
    await server.ctx.db
      .select()
      .from(quotaLeases)
      .where(and(eq(quotaLeases.userId, userId), eq(quotaLeases.instanceId, ctx.id)))
  )[0]

test('a reservation reclaims an expired lease of another instance; that instance then drops its lease instead of giving back what is not its own', async () => {
  const stale = instance()
  const fresh = instance()
  try {
    const held = []
    for (let i = 0; i < 4; i++) held.push(await holdOf(stale, BIG))
    expect((await counter()).reserved).toBe(LIMIT)
    expect((await leaseOf(stale))?.tokens).toBe(LIMIT)
    // While the lease is alive the limit is taken.
    expect(await reserveQuota(fresh, userId, 1, 50)).toHaveProperty('refusal')

    // Past the stale instance's expiry: the next reservation reclaims what it held.
    fresh.now = () => new Date(Date.now() + LEASE_TTL_MS + 5000)
    const mine = await holdOf(fresh, 50)
    expect(await leaseOf(stale)).toBeUndefined()
    const reserved = (await counter()).reserved
    expect(reserved).toBe((await leaseOf(fresh))!.tokens)
    expect(reserved).toBeGreaterThanOrEqual(50)

    // The stale instance comes back: its calls end and it shuts down (giving back everything).
    for (const hold of held) settleQuota(stale, hold, 10)
    await stale.close()
    expect((await counter()).reserved).toBe(reserved)
    settleQuota(fresh, mine, 20)
  } finally {
    await stale.close()
    await fresh.close()
  }
  // The fresh instance gave its lease back at shutdown: nothing held, its use counted.
  const end = await counter()
  expect(end.reserved).toBe(0)
  expect(end.tokens).toBe(20)
  expect(await server.ctx.db.select().from(quotaLeases).where(eq(quotaLeases.userId, userId))).toEqual([])
})
