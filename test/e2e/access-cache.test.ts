// The chat fast path's access cache (server/access/cache.ts) on two server instances sharing one
// database (two on one Postgres database when DATABASE_URL is set, else two on one PGlite): after
// a chat through each instance both hold the login and the (user, session) standing; every change
// that can take access away drops them on the instance that made it before its answer, and on
// the other one when the NOTIFY arrives, and the next chat is refused on both.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashToken } from '../../server/auth/tokens.ts'
import { loadConfig } from '../../server/config.ts'
import { type Database, openDatabase } from '../../server/db/index.ts'
import { createLogger } from '../../server/log.ts'
import { type PreparedServer, prepareServer } from '../../server/start.ts'
import { createPostgresTestDatabase, TEST_DATABASE_URL } from '../support/database.ts'
import { FakeAgent, registerMachine } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, cookieFrom, TEST_SECRET_KEY } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

interface Instance {
  server: PreparedServer
  request(path: string, init?: { method?: string; json?: unknown; cookie?: string }): Promise<Response>
}

const dataDir = mkdtempSync(join(tmpdir(), 'oa-cache-'))
const databases: Database[] = []
const instances: Instance[] = []
const agents: FakeAgent[] = []
let admin: string
let machine: { machineId: string; agentToken: string }

async function instance(database: Database): Promise<Instance> {
  const config = loadConfig(
    {
      SECRET_KEY: TEST_SECRET_KEY,
      DATA_DIR: dataDir,
      OPENACE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LOG_LEVEL: 'error',
      // Longer than any wait below: an entry gone is one a notice dropped, not one that aged out.
      ACCESS_CACHE_TTL_MS: '60000',
    },
    { warn: () => {} },
  )
  const server = await prepareServer(config, { database, log: createLogger('error', () => {}) })
  server.app.listen({ hostname: '127.0.0.1', port: 0, idleTimeout: 60 })
  const url = `http://127.0.0.1:${server.app.server!.port}`
  return {
    server,
    request: (path, init = {}) =>
      fetch(`${url}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          ...(init.json !== undefined ? { 'content-type': 'application/json' } : {}),
          ...(init.cookie ? { cookie: init.cookie } : {}),
        },
        body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
      }),
  }
}

beforeAll(async () => {
  if (TEST_DATABASE_URL) {
    const { url } = await createPostgresTestDatabase()
    databases.push(await openDatabase({ url }), await openDatabase({ url }))
  } else {
    databases.push(await openDatabase({ dataDir: 'memory://' }))
  }
  instances.push(await instance(databases[0]!), await instance(databases[1] ?? databases[0]!))
  admin = await login(0, 'admin', ADMIN_PASSWORD)
  const [a] = instances as [Instance]
  machine = await registerMachine(a.request as never, admin)
  const agent = new FakeAgent({
    url: a.server.app.server!.url.origin,
    token: machine.agentToken,
    machineId: machine.machineId,
    transport: 'websocket',
  })
  agents.push(agent)
  await agent.connect()
  await agent.waitForFrame('welcome')
}, 60_000)

afterAll(async () => {
  for (const agent of agents) await agent.close()
  for (const i of instances) {
    await i.server.app.stop(true)
    await i.server.ctx.close()
  }
  for (const db of databases) await db.close()
  rmSync(dataDir, { recursive: true, force: true })
}, 60_000)

async function login(at: number, username: string, password: string): Promise<string> {
  const res = await instances[at]!.request('/api/auth/login', {
    method: 'POST',
    json: { username, password },
  })
  expect(res.status).toBe(200)
  return cookieFrom(res)
}

interface World {
  userId: number
  cookie: string
  tokenHash: string
  sessionId: string
}

/** A user assigned to the machine with a session on it, having chatted through both instances. */
async function world(name: string, permission: 'user' | 'admin' = 'user'): Promise<World> {
  const username = `${name}_${crypto.randomUUID().slice(0, 6)}`
  const created = await instances[0]!.request('/api/users', {
    method: 'POST',
    cookie: admin,
    json: { username, password: `${username}-password` },
  })
  expect(created.status).toBe(201)
  const { user } = (await created.json()) as { user: { id: number } }
  const assigned = await instances[0]!.request(`/api/remote/machines/${machine.machineId}/assign`, {
    method: 'POST',
    cookie: admin,
    json: { user_id: user.id, permission },
  })
  expect(assigned.status).toBe(200)
  const cookie = await login(1, username, `${username}-password`)
  const session = await instances[1]!.request('/api/remote/sessions', {
    method: 'POST',
    cookie,
    json: { machine_id: machine.machineId, project_path: '/tmp' },
  })
  expect(session.status).toBe(201)
  const { session: s } = (await session.json()) as { session: { session_id: string } }
  const w: World = {
    userId: user.id,
    cookie,
    tokenHash: hashToken(decodeURIComponent(cookie.split('=')[1]!)),
    sessionId: s.session_id,
  }
  for (const at of [0, 1]) expect((await chat(at, w)).status).toBe(200)
  for (const at of [0, 1]) expect(cached(at, w)).toEqual({ login: true, standing: true })
  return w
}

const chat = (at: number, w: World) =>
  instances[at]!.request(`/api/remote/sessions/${w.sessionId}/chat`, {
    method: 'POST',
    cookie: w.cookie,
    json: { content: 'hello' },
  })

function cached(at: number, w: World) {
  const cache = instances[at]!.server.ctx.state.accessCache
  return {
    login: cache.login(w.tokenHash) !== undefined,
    standing: cache.standing(w.userId, w.sessionId) !== undefined,
  }
}

/**
 * The change was made through instance `at`: its cache forgot at once (before the answer came
 * back), the other instance's once the notice arrived; a chat is refused on both.
 */
async function expectDropped(at: number, w: World, what: { login: boolean; standing: boolean }) {
  const gone = (c: { login: boolean; standing: boolean }) =>
    (!what.login || !c.login) && (!what.standing || !c.standing)
  expect(gone(cached(at, w))).toBe(true)
  await waitUntil(() => gone(cached(1 - at, w)), { what: 'the other instance dropped its entries' })
}

describe(`the access cache on two instances sharing one ${TEST_DATABASE_URL ? 'Postgres' : 'PGlite'} database`, () => {
  test('logout drops the login on both instances', async () => {
    const w = await world('logout')
    expect(
      (await instances[0]!.request('/api/auth/logout', { method: 'POST', cookie: w.cookie })).status,
    ).toBe(200)
    await expectDropped(0, w, { login: true, standing: true })
    for (const at of [0, 1]) expect((await chat(at, w)).status).toBe(401)
  })

  test('disabling the user drops its login and standing on both instances', async () => {
    const w = await world('disabled')
    const res = await instances[1]!.request(`/api/users/${w.userId}`, {
      method: 'PATCH',
      cookie: admin,
      json: { status: 'disabled' },
    })
    expect(res.status).toBe(200)
    await expectDropped(1, w, { login: true, standing: true })
    for (const at of [0, 1]) expect((await chat(at, w)).status).toBe(401)
  })

  test('deleting the user drops its login and standing on both instances', async () => {
    const w = await world('deleted')
    expect(
      (await instances[0]!.request(`/api/users/${w.userId}`, { method: 'DELETE', cookie: admin })).status,
    ).toBe(200)
    await expectDropped(0, w, { login: true, standing: true })
    for (const at of [0, 1]) expect((await chat(at, w)).status).toBe(401)
  })

  test('unassigning the user drops its standing on both instances', async () => {
    const w = await world('unassigned')
    const res = await instances[1]!.request(`/api/remote/machines/${machine.machineId}/assign/${w.userId}`, {
      method: 'DELETE',
      cookie: admin,
    })
    expect(res.status).toBe(200)
    await expectDropped(1, w, { login: false, standing: true })
    for (const at of [0, 1]) expect((await chat(at, w)).ok).toBe(false)
  })

  test("a change of the user's role on the machine drops its standing on both instances", async () => {
    const w = await world('demoted', 'admin')
    const res = await instances[0]!.request(`/api/remote/machines/${machine.machineId}/assign`, {
      method: 'POST',
      cookie: admin,
      json: { user_id: w.userId, permission: 'user' },
    })
    expect(res.status).toBe(200)
    await expectDropped(0, w, { login: false, standing: true })
    // Still the session's owner: a plain assignment steers its own session.
    for (const at of [0, 1]) expect((await chat(at, w)).status).toBe(200)
  })

  test("a change of the session's state drops its standing on both instances", async () => {
    const w = await world('stopped')
    const res = await instances[1]!.request(`/api/remote/sessions/${w.sessionId}/stop`, {
      method: 'POST',
      cookie: w.cookie,
    })
    expect(res.status).toBe(200)
    await expectDropped(1, w, { login: false, standing: true })
    for (const at of [0, 1]) expect((await chat(at, w)).status).toBe(409)
  })
})
