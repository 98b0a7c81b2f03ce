// The compiled agent binary (linux-x64) against a real server process: registration and
// WebSocket, a server restart mid-output with nothing lost, long-poll when WebSocket is
// refused on the way, and a revoked token that makes the agent stop for good.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  AGENT_BINARY,
  adminCookie,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
  writeCountingCli,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { waitUntil } from '../support/wait-until.ts'

const BINARY = AGENT_BINARY
/** The typed client as the admin logged in with `cookie` on the server at `url`. */
const asAdmin = (url: string, cookie: string) => browserApi(url, cookie)
/** Agent reconnect settings for these tests (seconds); the bound a reconnect must meet. */
const BASE_DELAY = 0.2
const MAX_DELAY = 2
/** One reconnect handshake on a loaded 2-core machine: socket, hello stored, marked online. */
const HANDSHAKE_ALLOWANCE_MS = 3000
const SERVER_SETTINGS = {
  AGENT_HEARTBEAT_INTERVAL_SECONDS: '1',
  AGENT_LONG_POLL_TIMEOUT_MS: '2000',
  AGENT_OFFLINE_GRACE_MS: '500',
}

const servers: ServerProcess[] = []
const agents: Subprocess[] = []
const stoppers: (() => void)[] = []
let fakeCliDir: string

beforeAll(async () => {
  await ensureAgentBinary()
  fakeCliDir = writeCountingCli(300)
}, 120_000)

afterAll(async () => {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL')
  for (const s of servers) await s.stop('SIGKILL')
  for (const stop of stoppers) stop()
})

async function startServer(env?: Record<string, string>, port?: number) {
  const server = await spawnServer({
    env: env ?? (await serverEnv(SERVER_SETTINGS)),
    ...(port ? { port } : {}),
  })
  servers.push(server)
  return server
}

/** Registers and runs an agent whose PATH has the stand-in CLI and the test's reconnect delays. */
function startAgent(serverUrl: string, cookie: string, via = serverUrl): Promise<RunningAgent> {
  return startAgentBinary({
    serverUrl,
    cookie,
    via,
    track: agents,
    allowCliTools: ['counting-cli'],
    env: {
      PATH: `${fakeCliDir}:${process.env.PATH}`,
      OPENACE_RECONNECT_BASE_DELAY: String(BASE_DELAY),
      OPENACE_RECONNECT_MAX_DELAY: String(MAX_DELAY),
    },
  })
}

describe('agent binary end to end', () => {
  test('registers with a registration token and comes online over WebSocket', async () => {
    const server = await startServer()
    const cookie = await adminCookie(server.url)
    const agent = await startAgent(server.url, cookie)
    const machine = await waitUntil(machineOnline(server.url, cookie, agent.machineId), {
      what: 'online',
      timeoutMs: 15_000,
    })
    expect(machine.transport).toBe('websocket')
    const { data } = await asAdmin(server.url, cookie).remote.machines({ id: agent.machineId }).get()
    expect(JSON.stringify(data)).toContain('linux')
    const status = Bun.spawnSync([BINARY, 'status', '--dir', agent.dir, '--json'])
    expect(JSON.parse(status.stdout.toString())).toMatchObject({
      running: true,
      connection: 'online',
      connected_via: 'websocket',
    })
    agent.proc.kill('SIGTERM')
    expect(await agent.proc.exited).toBe(0)
    expect(agent.log()).not.toContain(
      JSON.parse(readFileSync(join(agent.dir, 'config.json'), 'utf8')).agent_token,
    )
  }, 60_000)

  test('server killed and restarted mid-output: back online within the backoff bound, no line lost', async () => {
    const env = await serverEnv(SERVER_SETTINGS)
    const first = await startServer(env)
    const cookie = await adminCookie(first.url)
    const agent = await startAgent(first.url, cookie)
    await waitUntil(machineOnline(first.url, cookie, agent.machineId), { what: 'online', timeoutMs: 15_000 })
    const created = await asAdmin(first.url, cookie).remote.sessions.post({
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: 'counting-cli',
    })
    expect(created.status).toBeLessThan(300)
    const sessionId = created.data!.session.session_id
    const output = async (url: string, c: string) =>
      (await asAdmin(url, c).remote.sessions({ id: sessionId }).get()).data!.session.output.map((o) => o.data)
    await waitUntil(async () => ((await output(first.url, cookie)).length > 20 ? true : undefined), {
      what: 'first lines',
      timeoutMs: 15_000,
    })

    expect(await first.stop('SIGKILL')).not.toBe(0)
    await Bun.sleep(1000)
    const second = await startServer(env, first.port)
    const upAt = Date.now()
    // The login session is in the database, so the first server's cookie holds there: no login
    // (a password hash, slow on a loaded machine) inside the measured window.
    await waitUntil(machineOnline(second.url, cookie, agent.machineId), {
      what: 'online again',
      timeoutMs: 15_000,
    })
    // The agent sleeps at most MAX_DELAY between attempts; allow one handshake on top. A backoff
    // that kept growing would be far past this.
    expect(Date.now() - upAt).toBeLessThan(MAX_DELAY * 1000 + HANDSHAKE_ALLOWANCE_MS)

    const lines = await waitUntil(
      async () => {
        const data = (await output(second.url, cookie)).filter((d) => d.startsWith('line '))
        return data.length >= 300 ? data : undefined
      },
      { what: 'all 300 lines', timeoutMs: 30_000 },
    )
    expect(lines).toEqual(Array.from({ length: 300 }, (_, i) => `line ${i}`))
  }, 60_000)

  test('WebSocket refused on the way: the agent works over long-poll', async () => {
    const server = await startServer()
    const cookie = await adminCookie(server.url)
    // A proxy that refuses WebSocket upgrades, as some corporate proxies do.
    const proxy = Bun.serve({
      hostname: '127.0.0.1',
      port: 0,
      idleTimeout: 60,
      async fetch(req) {
        if (req.headers.get('upgrade')) return new Response('WebSocket not allowed', { status: 403 })
        const url = new URL(req.url)
        const headers = new Headers(req.headers)
        headers.delete('host')
        return fetch(`${server.url}${url.pathname}${url.search}`, {
          method: req.method,
          headers,
          ...(req.method === 'GET' ? {} : { body: await req.arrayBuffer() }),
          signal: req.signal,
        })
      },
    })
    stoppers.push(() => proxy.stop(true))
    const agent = await startAgent(server.url, cookie, `http://127.0.0.1:${proxy.port}`)
    const machine = await waitUntil(machineOnline(server.url, cookie, agent.machineId), {
      what: 'online',
      timeoutMs: 15_000,
    })
    expect(machine.transport).toBe('long_poll')
    expect(agent.log()).toContain('WebSocket unavailable, using long-poll')
    const listed = await asAdmin(server.url, cookie)
      .remote.machines({ id: agent.machineId })
      .browse.get({ query: { path: join(agent.dir, 'work') } })
    expect(listed.status).toBe(200)
    expect(JSON.stringify(listed.data)).toContain('marker.txt')
  }, 60_000)

  test('a revoked token makes the agent stop trying and exit with a clear log line', async () => {
    const server = await startServer()
    const cookie = await adminCookie(server.url)
    const agent = await startAgent(server.url, cookie)
    await waitUntil(machineOnline(server.url, cookie, agent.machineId), { what: 'online', timeoutMs: 15_000 })
    const revoked = await asAdmin(server.url, cookie)
      .remote.machines({ id: agent.machineId })
      .token.revoke.post()
    expect(revoked.status).toBe(200)
    const code = await Promise.race([agent.proc.exited, Bun.sleep(20_000).then(() => 'still running')])
    expect(code).toBe(78)
    expect(agent.log()).toContain('no longer accepts')
    expect(agent.log()).toContain('register again')
  }, 60_000)
})
