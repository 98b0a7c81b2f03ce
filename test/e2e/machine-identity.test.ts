// A machine's identity belongs to whoever holds its agent token, black-box with the compiled
// agent: a fresh registration token cannot take a registered machine_id (whatever its tenant,
// one answer, nothing spent), the agent keeps its channel and its users' messages; a
// deregistered id registered again into another tenant starts with no past; registration is
// rate limited per address. Each test here failed on the main before this change.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  AGENT_BINARY,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  runAgentBinary,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

let server: TestServer
let agent: RunningAgent
let admin: string
let tenant2: number
const processes: Subprocess[] = []

/** The typed client as the holder of `cookie` (the admin by default), with the browser's Origin. */
const as = (cookie = admin) => browserApi(server.url, cookie)

beforeAll(async () => {
  await ensureAgentBinary()
  server = await startTestServer({
    listen: true,
    env: { AGENT_HEARTBEAT_INTERVAL_SECONDS: '1', AGENT_OFFLINE_GRACE_MS: '500', LOG_LEVEL: 'info' },
  })
  admin = await server.login()
  const created = await as().tenants.post({ name: 'tenant-two' })
  expect(created.status).toBe(201)
  tenant2 = created.data!.tenant.id
  agent = await startAgentBinary({
    serverUrl: server.url,
    cookie: admin,
    track: processes,
    allowCliTools: ['cat'],
  })
  await waitUntil(machineOnline(server.url, admin, agent.machineId), {
    what: 'agent online',
    timeoutMs: 15_000,
  })
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
})

async function registrationToken(tenantId: number): Promise<string> {
  const { status, data } = await as().remote.machines.register.post({ tenant_id: tenantId })
  expect(status).toBe(200)
  return data!.registration_token
}

function register(token: string, machineId: string, extra: Record<string, unknown> = {}) {
  return fetch(`${server.url}/api/remote/agent/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      registration_token: token,
      machine_id: machineId,
      machine_name: 'attacker',
      hostname: 'evil',
      os_type: 'linux',
      os_version: '1',
      capabilities: {},
      agent_version: '0.0.1',
      ...extra,
    }),
  })
}

describe("a machine's identity", () => {
  test('a fresh registration token cannot take a registered, online machine_id; the agent keeps working', async () => {
    const token = await registrationToken(1)
    const res = await register(token, agent.machineId)
    expect(res.status).toBe(409)
    const body = (await res.json()) as { error: { type: string }; agent_token?: string }
    expect(body.agent_token).toBeUndefined()
    const { data: m } = await as().remote.machines({ id: agent.machineId }).get()
    expect(m?.machine.machine_name).toBe('e2e')
    expect(m?.machine.connected).toBe(true)
    // The refused claim spent nothing: the same token registers a new machine.
    expect((await register(token, crypto.randomUUID())).status).toBe(200)
    // The real agent still gets its users' messages.
    const user = await createUser(server, admin, 'identity_user')
    await as().remote.machines({ id: agent.machineId }).assign.post({ user_id: user.id, permission: 'user' })
    const created = await as(user.cookie).remote.sessions.post({
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: 'cat',
    })
    expect(created.status).toBe(201)
    const session = as(user.cookie).remote.sessions({ id: created.data!.session.session_id })
    await waitUntil(
      async () => {
        const { data: s } = await session.get()
        return s?.session.status === 'active' ? true : undefined
      },
      { what: 'session active', timeoutMs: 15_000 },
    )
    await session.chat.post({ content: 'ping-identity' })
    await waitUntil(
      async () => {
        const { data: s } = await session.get()
        return s?.session.output.some((o) => o.data.includes('ping-identity')) ? true : undefined
      },
      { what: 'the real agent answered', timeoutMs: 15_000 },
    )
    await session.stop.post()
  })

  test("another tenant's machine_id gets the same answer as an unproven claim, and spends no token", async () => {
    const same = await register(await registrationToken(1), agent.machineId)
    const otherToken = await registrationToken(tenant2)
    const other = await register(otherToken, agent.machineId)
    expect(other.status).toBe(409)
    expect(await other.json()).toEqual(await same.json())
    expect((await register(otherToken, crypto.randomUUID())).status).toBe(200)
  })

  test('a deregistered id registered into another tenant shows none of its past', async () => {
    // A second real agent with a session on record, then deregistered.
    const second = await startAgentBinary({
      serverUrl: server.url,
      cookie: admin,
      track: processes,
      allowCliTools: ['cat'],
    })
    await waitUntil(machineOnline(server.url, admin, second.machineId), {
      what: 'second agent online',
      timeoutMs: 15_000,
    })
    const created = await as().remote.sessions.post({
      machine_id: second.machineId,
      project_path: join(second.dir, 'work'),
      cli_tool: 'cat',
      title: 'tenant one secret project',
    })
    expect(created.status).toBe(201)
    const secondMachine = as().remote.machines({ id: second.machineId })
    const before = await secondMachine.sessions.get()
    expect(before.data!.sessions.length).toBe(1)
    expect((await secondMachine.delete()).status).toBe(200)
    await second.proc.exited
    // The same directory (same machine_id) registered again with a tenant-2 token.
    mkdirSync(join(second.dir, 'work'), { recursive: true })
    const reg = Bun.spawn(
      [
        AGENT_BINARY,
        'register',
        '--server',
        server.url,
        '--token',
        await registrationToken(tenant2),
        '--dir',
        second.dir,
      ],
      { env: second.env, stdout: 'pipe', stderr: 'pipe' },
    )
    expect(await reg.exited).toBe(0)
    const again = runAgentBinary(second.dir, second.machineId, second.env, processes)
    await waitUntil(machineOnline(server.url, admin, again.machineId), {
      what: 're-registered agent online',
      timeoutMs: 15_000,
    })
    const { data } = await secondMachine.sessions.get()
    expect(data?.sessions).toEqual([])
    const { data: m } = await secondMachine.get()
    expect(m?.machine.tenant_id).toBe(tenant2)
    expect(m?.machine.users ?? []).toEqual([])
  })
})

describe('registration rate limit', () => {
  test('too many attempts from one address get 429 with Retry-After', async () => {
    const limited = await startTestServer({
      listen: true,
      env: { REGISTRATION_MAX_PER_IP: '3', LOG_LEVEL: 'info' },
    })
    try {
      const cookie = await limited.login()
      const statuses: number[] = []
      let retryAfter: string | null = null
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${limited.url}/api/remote/agent/register`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            registration_token: 'wrong',
            machine_id: crypto.randomUUID(),
            machine_name: 'x',
            hostname: 'x',
            os_type: 'linux',
            os_version: '1',
            capabilities: {},
            agent_version: '0.0.1',
          }),
        })
        statuses.push(res.status)
        if (res.status === 429) retryAfter = res.headers.get('retry-after')
      }
      expect(statuses).toEqual([401, 401, 401, 429, 429])
      expect(Number(retryAfter)).toBeGreaterThan(0)
      void cookie
    } finally {
      await limited.stop()
    }
  })
})
