// Commands are durable: queued while the agent is away, the server stopped and started again on
// the same database (a file-backed PGlite, or Postgres when DATABASE_URL is set), the agent
// reconnects and receives each command exactly once, including one it had but never acked.
import { afterAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { queueCommand } from '../../server/agents/index.ts'
import { loadConfig } from '../../server/config.ts'
import { createLogger } from '../../server/log.ts'
import { type PreparedServer, prepareServer } from '../../server/start.ts'
import { createPostgresTestDatabase, TEST_DATABASE_URL } from '../support/database.ts'
import { FakeAgent, registerMachine } from '../support/fake-agent.ts'
import { ADMIN_PASSWORD, cookieFrom, TEST_SECRET_KEY } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

const dataDir = mkdtempSync(join(tmpdir(), 'oa-restart-'))
afterAll(() => rmSync(dataDir, { recursive: true, force: true }))

async function start(databaseUrl: string | undefined, port = 0) {
  const config = loadConfig(
    {
      SECRET_KEY: TEST_SECRET_KEY,
      DATA_DIR: dataDir,
      OPENACE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      DATABASE_URL: databaseUrl,
      LOG_LEVEL: 'error',
    },
    { warn: () => {} },
  )
  const server = await prepareServer(config, { log: createLogger('error', () => {}) })
  server.app.listen({ hostname: '127.0.0.1', port, idleTimeout: 60 })
  return server
}

async function stop(server: PreparedServer) {
  await server.app.stop(true)
  await server.close()
}

test('queued commands survive a restart and arrive once', async () => {
  const databaseUrl = TEST_DATABASE_URL ? (await createPostgresTestDatabase()).url : undefined
  let server = await start(databaseUrl)
  const url = `http://127.0.0.1:${server.app.server!.port}`
  const request = (path: string, init: RequestInit & { json?: unknown; cookie?: string } = {}) =>
    fetch(`${url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', ...(init.cookie ? { cookie: init.cookie } : {}) },
      body: init.json !== undefined ? JSON.stringify(init.json) : undefined,
    })
  const login = await request('/api/auth/login', {
    method: 'POST',
    json: { username: 'admin', password: ADMIN_PASSWORD },
  })
  const m = await registerMachine(request, cookieFrom(login))

  // Delivered but never acked before the restart.
  const first = new FakeAgent({
    url,
    token: m.agentToken,
    machineId: m.machineId,
    transport: 'websocket',
    autoAck: false,
  })
  await first.connect()
  const inFlight = await queueCommand(server.ctx, m.machineId, {
    type: 'fs.list',
    request_id: 'a',
    path: '/a',
  })
  await waitUntil(() => first.commands.some((c) => c.id === inFlight.id), {
    what: 'in-flight command',
    timeoutMs: 3000,
  })
  await first.close()
  // Queued while the agent is away.
  const queued = await queueCommand(server.ctx, m.machineId, { type: 'fs.list', request_id: 'b', path: '/b' })
  const port = server.app.server!.port!
  await stop(server)

  server = await start(databaseUrl, port)
  try {
    const again = new FakeAgent({ url, token: m.agentToken, machineId: m.machineId, transport: 'websocket' })
    await again.connect()
    await waitUntil(() => again.commands.length >= 2, { what: 'both commands', timeoutMs: 3000 })
    await Bun.sleep(150)
    expect(again.commands.map((c) => c.id)).toEqual([inFlight.id, queued.id])
    const deliveries = again.frames.filter((f) => 'id' in f && (f.id === inFlight.id || f.id === queued.id))
    expect(deliveries).toHaveLength(2)
    await again.close()
    // Acked now: a further reconnect brings nothing.
    const third = new FakeAgent({ url, token: m.agentToken, machineId: m.machineId, transport: 'long_poll' })
    await third.connect()
    await third.waitForFrame('welcome')
    expect(third.commands).toHaveLength(0)
    await third.close()
  } finally {
    await stop(server)
  }
}, 60_000)
