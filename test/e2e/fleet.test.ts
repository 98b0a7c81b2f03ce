// A tidy fleet and token rotation with the compiled agent binary against a real server process:
// a live duplicate hostname is refused, an offline host re-installed three times (twice at
// once) stays one machine, rotating an online machine's token keeps it and its session going,
// and after three rotations while it was off the agent comes back with the newest token.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  AGENT_BINARY,
  adminCookie,
  ensureAgentBinary,
  machineOnline,
  runAgentBinary,
  startAgentBinary,
  writeCountingCli,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { waitUntil } from '../support/wait-until.ts'

const servers: ServerProcess[] = []
const agents: Subprocess[] = []
let fakeCliDir: string
let server: ServerProcess
let cookie: string

beforeAll(async () => {
  await ensureAgentBinary()
  fakeCliDir = writeCountingCli(400)
  server = await spawnServer({
    env: await serverEnv({
      AGENT_HEARTBEAT_INTERVAL_SECONDS: '1',
      AGENT_LONG_POLL_TIMEOUT_MS: '2000',
      AGENT_OFFLINE_GRACE_MS: '2000',
    }),
  })
  servers.push(server)
  cookie = await adminCookie(server.url)
}, 120_000)

afterAll(async () => {
  for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL')
  for (const s of servers) await s.stop('SIGKILL')
})

const agentEnv = (hostname: string) => ({
  PATH: `${fakeCliDir}:${process.env.PATH}`,
  OPENACE_HOSTNAME: hostname,
  OPENACE_RECONNECT_BASE_DELAY: '0.2',
  OPENACE_RECONNECT_MAX_DELAY: '1',
})

/** The typed client as the admin (the cookie is set once the server is up). */
const asAdmin = () => browserApi(server.url, cookie)

/** `open-ace-agent register` into a fresh directory (a re-install); exit code, stderr and the saved config. */
async function install(hostname: string) {
  const { data } = await asAdmin().remote.machines.register.post({ tenant_id: 1 })
  const dir = mkdtempSync(join(tmpdir(), 'oa-fleet-agent-'))
  mkdirSync(join(dir, 'work'))
  const proc = Bun.spawn(
    [AGENT_BINARY, 'register', '--server', server.url, '--token', data!.registration_token, '--dir', dir],
    { env: { HOME: dir, ...agentEnv(hostname) }, stdout: 'pipe', stderr: 'pipe' },
  )
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
  const config = code === 0 ? JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) : undefined
  return { code, stderr, dir, config }
}

async function machinesNamed(hostname: string) {
  const { data } = await asAdmin().remote.machines.get()
  return data!.machines.filter((m) => m.hostname === hostname)
}

const readConfig = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))
const wsStatus = async (token: string) =>
  (await fetch(`${server.url}/api/remote/agent/ws`, { headers: { authorization: `Bearer ${token}` } })).status

describe('a tidy fleet', () => {
  test('registering a new machine with the hostname of a live one is refused with 409', async () => {
    const hostname = `live-${crypto.randomUUID().slice(0, 8)}`
    const live = await startAgentBinary({
      serverUrl: server.url,
      cookie,
      track: agents,
      env: agentEnv(hostname),
    })
    await waitUntil(machineOnline(server.url, cookie, live.machineId), { what: 'online', timeoutMs: 60_000 })
    const second = await install(hostname)
    expect(second.code).not.toBe(0)
    expect(second.stderr).toContain(`A machine named '${hostname}' is online`)
    expect(await machinesNamed(hostname)).toHaveLength(1)
    live.proc.kill('SIGTERM')
    await live.proc.exited
  }, 60_000)

  test('re-installing an offline host three times, twice concurrently, leaves one machine', async () => {
    const hostname = `reinstall-${crypto.randomUUID().slice(0, 8)}`
    const first = await install(hostname)
    expect(first.code).toBe(0)
    const again = await install(hostname)
    expect(again.code).toBe(0)
    const twice = await Promise.all([install(hostname), install(hostname)])
    expect(twice.map((r) => r.code)).toEqual([0, 0])
    const rows = await machinesNamed(hostname)
    expect(rows).toHaveLength(1)
    for (const r of [again, ...twice]) expect(r.config.machine_id).toBe(first.config.machine_id)
  }, 60_000)
})

describe('rotation without downtime', () => {
  test("rotating an online machine's token keeps it online and its session running", async () => {
    const agent = await startAgentBinary({
      serverUrl: server.url,
      cookie,
      track: agents,
      env: agentEnv(`rot-${crypto.randomUUID().slice(0, 8)}`),
    })
    await waitUntil(machineOnline(server.url, cookie, agent.machineId), { what: 'online', timeoutMs: 15_000 })
    const oldToken = readConfig(agent.dir).agent_token
    const machine = asAdmin().remote.machines({ id: agent.machineId })
    const allowed = await machine.settings.patch({ allowed_cli_tools: ['counting-cli'] })
    expect(allowed.status).toBe(200)
    const created = await asAdmin().remote.sessions.post({
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: 'counting-cli',
    })
    const session = asAdmin().remote.sessions({ id: created.data!.session.session_id })
    const lines = async () =>
      (await session.get({ query: { output_limit: 1000 } })).data!.session.output.map((o) => o.data)
    await waitUntil(async () => ((await lines()).length > 10 ? true : undefined), {
      what: 'first lines',
      timeoutMs: 60_000,
    })

    const rotated = await machine.token.rotate.post()
    expect(rotated.status).toBe(200)
    const newToken = rotated.data!.agent_token
    await waitUntil(async () => (readConfig(agent.dir).agent_token === newToken ? true : undefined), {
      what: 'agent stored the new token',
      timeoutMs: 15_000,
    })
    expect(readConfig(agent.dir).agent_token_version).toBe(rotated.data!.version)
    await waitUntil(async () => ((await wsStatus(oldToken)) === 401 ? true : undefined), {
      what: 'old token retired',
      timeoutMs: 15_000,
    })
    await waitUntil(machineOnline(server.url, cookie, agent.machineId), {
      what: 'online with the new token',
      timeoutMs: 15_000,
    })
    await waitUntil(async () => ((await lines()).join('').includes('line 399') ? true : undefined), {
      what: 'the session ran to its last line',
      timeoutMs: 30_000,
    })
    // Every line exactly once and in order: nothing lost or repeated across the switch.
    const seen = [...(await lines()).join('\n').matchAll(/line \d+/g)].map((m) => m[0])
    expect(seen).toEqual(Array.from({ length: 400 }, (_, n) => `line ${n}`))
    const { data } = await session.get()
    expect(data!.session.status).toBe('active')
    expect(agent.proc.exitCode).toBeNull()
    expect(agent.log()).not.toContain(newToken)
    agent.proc.kill('SIGTERM')
    await agent.proc.exited
  }, 90_000)

  test('three rotations while the agent is off: it comes back with the newest token', async () => {
    const agent = await startAgentBinary({
      serverUrl: server.url,
      cookie,
      track: agents,
      env: agentEnv(`off-${crypto.randomUUID().slice(0, 8)}`),
    })
    await waitUntil(machineOnline(server.url, cookie, agent.machineId), { what: 'online', timeoutMs: 15_000 })
    agent.proc.kill('SIGTERM')
    expect(await agent.proc.exited).toBe(0)
    const rotations: Array<{ agent_token: string; version: number }> = []
    for (let i = 0; i < 3; i++) {
      const r = await asAdmin().remote.machines({ id: agent.machineId }).token.rotate.post()
      expect(r.status).toBe(200)
      rotations.push(r.data!)
    }
    const back = runAgentBinary(agent.dir, agent.machineId, agent.env, agents)
    const newest = rotations[2]!
    await waitUntil(
      async () => (readConfig(agent.dir).agent_token === newest.agent_token ? true : undefined),
      { what: 'agent stored the newest token', timeoutMs: 15_000 },
    )
    expect(readConfig(agent.dir).agent_token_version).toBe(newest.version)
    await waitUntil(machineOnline(server.url, cookie, agent.machineId), { what: 'online', timeoutMs: 15_000 })
    for (const r of rotations.slice(0, 2)) expect(await wsStatus(r.agent_token)).toBe(401)
    expect(back.proc.exitCode).toBeNull()
    back.proc.kill('SIGTERM')
    expect(await back.proc.exited).toBe(0)
  }, 90_000)
})
