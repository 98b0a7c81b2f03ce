// Test servers: the real app on a fresh database, called in-process through app.handle or,
// with listen: true, over a real socket. Logs are captured so tests can grep them.
import { afterAll, beforeAll } from 'bun:test'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadConfig } from '../../server/config.ts'
import { createLogger } from '../../server/log.ts'
import { type PreparedServer, prepareServer } from '../../server/start.ts'
import { dropTestDatabase, openTestDatabase } from './database.ts'

export const ADMIN_PASSWORD = 'admin123'
export const TEST_SECRET_KEY = 'test-secret-key-not-for-production'

export interface TestServer extends PreparedServer {
  /** Base URL: a real socket when listening, else a placeholder app.handle understands. */
  url: string
  dataDir: string
  logs: string[]
  request(path: string, init?: RequestInit & { json?: unknown; cookie?: string }): Promise<Response>
  login(username?: string, password?: string): Promise<string>
  stop(): Promise<void>
}

export interface TestServerOptions {
  env?: Record<string, string | undefined>
  listen?: boolean
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'oa-test-'))
  const config = loadConfig(
    {
      SECRET_KEY: TEST_SECRET_KEY,
      DATA_DIR: dataDir,
      OPENACE_ADMIN_PASSWORD: ADMIN_PASSWORD,
      LOG_LEVEL: 'debug',
      // The fake upstreams listen on loopback.
      LLM_PROXY_PRIVATE_UPSTREAMS: 'private',
      // Every test agent registers from 127.0.0.1; the limit has its own test.
      REGISTRATION_MAX_PER_IP: '100000',
      ...options.env,
    },
    { warn: () => {} },
  )
  const logs: string[] = []
  const log = createLogger(config.logLevel, (line) => logs.push(line))
  const database = await openTestDatabase()
  const prepared = await prepareServer(config, { database, log, print: (line) => logs.push(line) })
  let url = 'http://localhost'
  if (options.listen) {
    prepared.app.listen({ hostname: '127.0.0.1', port: 0, idleTimeout: 60 })
    url = `http://127.0.0.1:${prepared.app.server!.port}`
  }

  const request = requestTo(url, options.listen ? fetch : (req) => prepared.app.handle(req))

  return {
    ...prepared,
    url,
    dataDir,
    logs,
    request,
    async login(username = 'admin', password = ADMIN_PASSWORD) {
      const res = await request('/api/auth/login', { method: 'POST', json: { username, password } })
      if (res.status !== 200) throw new Error(`login ${username} failed: ${res.status} ${await res.text()}`)
      return cookieFrom(res)
    },
    async stop() {
      await prepared.close(options.listen ? () => prepared.app.stop(true) : undefined)
      if ('testName' in database && database.testName) await dropTestDatabase(database.testName)
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export interface UseTestServerOptions extends TestServerOptions {
  /** For both hooks, where a file's start or stop outlasts bun's default (a listening server, agents to close). */
  timeoutMs?: number
  /** Runs before the server stops, to close what the file opened against it (agents, sockets). */
  beforeStop?: () => unknown
}

/** One file's server and admin cookie, live once its beforeAll has run. */
export interface TestServerWorld {
  readonly server: TestServer
  readonly admin: string
}

/**
 * Starts a server and logs the admin in for the calling file (its beforeAll), and stops it after
 * (its afterAll). The bindings are getters, so tests read `world.server` as the live server.
 */
export function useTestServer(options: UseTestServerOptions = {}): TestServerWorld {
  const { timeoutMs, beforeStop, ...start } = options
  let server: TestServer | undefined
  let admin: string | undefined
  beforeAll(async () => {
    server = await startTestServer(start)
    admin = await server.login()
  }, timeoutMs)
  afterAll(async () => {
    await beforeStop?.()
    await server?.stop()
  }, timeoutMs)
  return {
    get server() {
      if (!server) throw new Error('useTestServer: the server is read before its beforeAll ran')
      return server
    },
    get admin() {
      if (admin === undefined) throw new Error('useTestServer: the admin is read before its beforeAll ran')
      return admin
    },
  }
}

/**
 * A `request` for the server at `base`: JSON bodies and a cookie set for the caller; sent with
 * `send` (a real socket by default, or app.handle for a server that does not listen).
 */
export function requestTo(
  base: string,
  send: (req: Request) => Promise<Response> = fetch,
): TestServer['request'] {
  return (path, init = {}) => {
    const headers = new Headers(init.headers)
    let body = init.body
    if (init.json !== undefined) {
      headers.set('content-type', 'application/json')
      body = JSON.stringify(init.json)
    }
    if (init.cookie) headers.set('cookie', init.cookie)
    return send(new Request(`${base}${path}`, { ...init, headers, body }))
  }
}

/** The `name=value` pairs of a response's Set-Cookie headers, ready for a Cookie header. */
export function cookieFrom(res: { headers: Headers }): string {
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
}

export async function createUser(
  server: TestServer,
  adminCookie: string,
  username: string,
  role: 'user' | 'system_admin' = 'user',
  tenantId?: number,
) {
  const res = await server.request('/api/users', {
    method: 'POST',
    cookie: adminCookie,
    json: { username, password: `${username}-password`, role, ...(tenantId ? { tenant_id: tenantId } : {}) },
  })
  if (res.status !== 201) throw new Error(`create user ${username}: ${res.status} ${await res.text()}`)
  const { user } = (await res.json()) as { user: { id: number } }
  return { id: user.id, cookie: await server.login(username, `${username}-password`) }
}
