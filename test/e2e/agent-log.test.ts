// The agent's log tail with the real agent binary, over both transports: GET
// /api/remote/machines/{id}/log asks the agent (log.tail) and answers its recent lines; the
// lines carry no token; only the machine's admins may read them.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

let server: TestServer
let admin: string
const processes: Subprocess[] = []
/** The typed client as the holder of `cookie`. */
const as = (cookie: string) => browserApi(server.url, cookie)
const agents: RunningAgent[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  server = await startTestServer({ listen: true })
  admin = await server.login()
}, 300_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGTERM')
  await Promise.all(processes.map((p) => p.exited))
  for (const a of agents) rmSync(a.dir, { recursive: true, force: true })
  await server.stop()
})

describe('GET /api/remote/machines/{id}/log', () => {
  for (const transport of ['websocket', 'long-poll'] as const) {
    test(`answers the agent's recent lines, without its token (${transport})`, async () => {
      const agent = await startAgentBinary({
        serverUrl: server.url,
        cookie: admin,
        track: processes,
        env: { OPENACE_AGENT_TRANSPORT: transport, OPENACE_LOG_LEVEL: 'debug' },
      })
      agents.push(agent)
      const online = await waitUntil(machineOnline(server.url, admin, agent.machineId), {
        what: 'agent online',
        timeoutMs: 60_000,
      })
      expect(online.transport).toBe(transport === 'websocket' ? 'websocket' : 'long_poll')
      const res = await as(admin)
        .remote.machines({ id: agent.machineId })
        .log.get({ query: { lines: 50 } })
      expect(res.status).toBe(200)
      const lines = res.data!.lines
      expect(lines.length).toBeGreaterThan(0)
      expect(lines.length).toBeLessThanOrEqual(50)
      // The same lines the agent wrote to its own log, newest last.
      const written = readFileSync(join(agent.dir, 'agent.log'), 'utf8')
      for (const line of lines) expect(written).toContain(line)
      const token = JSON.parse(readFileSync(join(agent.dir, 'config.json'), 'utf8')).agent_token as string
      expect(token.length).toBeGreaterThan(8)
      expect(lines.join('\n')).not.toContain(token)
    }, 120_000)
  }

  test('only the machine’s admins read it; an offline machine is a 409', async () => {
    const agent = agents[0]!
    const user = await createUser(server, admin, 'lena')
    const boss = await createUser(server, admin, 'bert')
    const machine = (cookie: string) => as(cookie).remote.machines({ id: agent.machineId })
    await machine(admin).assign.post({ user_id: user.id })
    await machine(admin).assign.post({ user_id: boss.id, permission: 'admin' })
    expect((await machine(user.cookie).log.get()).status).toBe(403)
    expect((await machine(boss.cookie).log.get()).status).toBe(200)
    expect((await machine(admin).log.get({ query: { lines: 0 } })).status).toBe(400)
    agent.proc.kill('SIGTERM')
    await agent.proc.exited
    await waitUntil(async () => (await machine(admin).log.get()).status === 409, {
      what: 'the stopped agent offline',
      timeoutMs: 60_000,
    })
  }, 120_000)
})
