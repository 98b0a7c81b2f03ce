// A tidy fleet and rotation without downtime, against the real app and fake agents: hostname
// conflicts and merges (concurrent too), and graceful / immediate / repeated token rotation.
import { afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { and, eq, isNull } from 'drizzle-orm'
import type { CommandOf } from '../../protocol/index.ts'
import { closeAgents, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, useTestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { agentTokens, machineAssignments, remoteMachines, tenants } from '../db/schema/index.ts'

const agents: FakeAgent[] = []

const world = useTestServer({ listen: true, timeoutMs: 60_000 })
beforeAll(async () => {
  await world.server.ctx.db.insert(tenants).values({ id: 2, name: 'tenant-two' }).onConflictDoNothing()
})
afterEach(() => closeAgents(agents.splice(0)))

const uniqueHost = () => `host-${crypto.randomUUID().slice(0, 8)}.lab`

async function connect(m: { machineId: string; agentToken: string }) {
  const agent = await FakeAgent.connectTo(world.server.url, m, { track: agents })
  await waitUntil(async () => (await machine(m.machineId)).status === 'online', { what: 'machine online' })
  return agent
}

const machine = async (id: string) =>
  (await world.server.ctx.db.select().from(remoteMachines).where(eq(remoteMachines.machineId, id)))[0]!
const rowsForHost = (hostname: string) =>
  world.server.ctx.db
    .select()
    .from(remoteMachines)
    .where(and(eq(remoteMachines.hostname, hostname), isNull(remoteMachines.deletedAt)))

async function registerRaw(hostname: string, options: { tenantId?: number; agentToken?: string } = {}) {
  const tokenRes = await world.server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: world.admin,
    json: { tenant_id: options.tenantId ?? 1 },
  })
  const { registration_token } = (await tokenRes.json()) as { registration_token: string }
  return world.server.request('/api/remote/agent/register', {
    method: 'POST',
    headers: options.agentToken ? { authorization: `Bearer ${options.agentToken}` } : {},
    json: {
      registration_token,
      machine_id: crypto.randomUUID(),
      machine_name: hostname,
      hostname,
      os_type: 'linux',
      os_version: '6.1',
      capabilities: {},
      agent_version: '0.0.0-test',
    },
  })
}

const rotate = (id: string, query = '') =>
  world.server.request(`/api/remote/machines/${id}/token/rotate${query}`, {
    method: 'POST',
    cookie: world.admin,
  })

const wsStatus = async (token: string) =>
  (await fetch(`${world.server.url}/api/remote/agent/ws`, { headers: { authorization: `Bearer ${token}` } }))
    .status

describe('hostname rules', () => {
  test('a new registration with the hostname of a live machine is 409 hostname_conflict', async () => {
    const hostname = uniqueHost()
    const live = await registerMachine(world.server.request, world.admin, { hostname })
    await connect(live)
    const res = await registerRaw(hostname)
    expect(res.status).toBe(409)
    const body = (await res.json()) as { error: { type: string; message: string } }
    expect(body.error.type).toBe('hostname_conflict')
    expect(body.error.message).toContain(hostname)
    expect(await rowsForHost(hostname)).toHaveLength(1)
  })

  test("holding the live machine's agent token lets it register again, into the same machine", async () => {
    const hostname = uniqueHost()
    const live = await registerMachine(world.server.request, world.admin, { hostname })
    await connect(live)
    const res = await registerRaw(hostname, { agentToken: live.agentToken })
    expect(res.status).toBe(200)
    expect(((await res.json()) as { machine_id: string }).machine_id).toBe(live.machineId)
    expect(await rowsForHost(hostname)).toHaveLength(1)
  })

  test('re-installing an offline host merges into it: id, assignments and history kept, old token dead', async () => {
    const hostname = uniqueHost()
    const first = await registerMachine(world.server.request, world.admin, { hostname })
    const user = await createUser(world.server, world.admin, `u${crypto.randomUUID().slice(0, 6)}`)
    await world.server.request(`/api/remote/machines/${first.machineId}/assign`, {
      method: 'POST',
      cookie: world.admin,
      json: { user_id: user.id, permission: 'user' },
    })
    const res = await registerRaw(hostname)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { machine_id: string; agent_token: string }
    expect(body.machine_id).toBe(first.machineId)
    const assigned = await world.server.ctx.db
      .select()
      .from(machineAssignments)
      .where(eq(machineAssignments.machineId, first.machineId))
    expect(assigned.map((a) => a.userId)).toEqual([user.id])
    expect(await wsStatus(first.agentToken)).toBe(401)
    expect(await rowsForHost(hostname)).toHaveLength(1)
  })

  test('three re-installs of an offline host, two of them concurrent, leave one row', async () => {
    const hostname = uniqueHost()
    const first = await registerRaw(hostname)
    expect(first.status).toBe(200)
    const again = await registerRaw(hostname)
    expect(again.status).toBe(200)
    const both = await Promise.all([registerRaw(hostname), registerRaw(hostname)])
    expect(both.map((r) => r.status)).toEqual([200, 200])
    const rows = await rowsForHost(hostname)
    expect(rows).toHaveLength(1)
    const ids = await Promise.all(
      both.map(async (r) => ((await r.json()) as { machine_id: string }).machine_id),
    )
    expect(new Set(ids)).toEqual(new Set([rows[0]!.machineId]))
  })

  test('blank hostnames never merge (empty ones are refused); other tenants never merge', async () => {
    expect((await registerRaw('')).status).toBe(400)
    expect((await registerRaw(' ')).status).toBe(200)
    expect((await registerRaw(' ')).status).toBe(200)
    expect(await rowsForHost(' ')).toHaveLength(2)
    const hostname = uniqueHost()
    const live = await registerMachine(world.server.request, world.admin, { hostname })
    await connect(live)
    const other = await registerRaw(hostname, { tenantId: 2 })
    expect(other.status).toBe(200)
    expect(((await other.json()) as { machine_id: string }).machine_id).not.toBe(live.machineId)
    expect(await rowsForHost(hostname)).toHaveLength(2)
  })
})

describe('agent token rotation', () => {
  test('an online machine gets the new token over its channel and stays online; the old one retires on first use of the new', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const agent = await connect(m)
    const res = await rotate(m.machineId)
    expect(res.status).toBe(200)
    const rotated = (await res.json()) as { agent_token: string; version: number; mode: string }
    expect(rotated.mode).toBe('graceful')
    const command = (await agent.waitForCommand('agent.token')) as CommandOf<'agent.token'>
    expect(command).toMatchObject({ agent_token: rotated.agent_token, version: rotated.version })
    expect(agent.goodbye).toBeUndefined()
    expect((await machine(m.machineId)).status).toBe('online')
    // The old token still opens a channel during the grace period.
    expect(await wsStatus(m.agentToken)).not.toBe(401)
    const next = await connect({ machineId: m.machineId, agentToken: rotated.agent_token })
    expect(next.goodbye).toBeUndefined()
    expect(await wsStatus(m.agentToken)).toBe(401)
    expect((await machine(m.machineId)).status).toBe('online')
  })

  test('the old token stops once the grace period after its use ends', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    await connect(m)
    expect((await rotate(m.machineId)).status).toBe(200)
    const realNow = world.server.ctx.now
    world.server.ctx.now = () => new Date(realNow().getTime() + 5 * 60_000 + 1000)
    try {
      expect(await wsStatus(m.agentToken)).toBe(401)
    } finally {
      world.server.ctx.now = realNow
    }
  })

  test('three rotations while offline: the old token still reaches the server and only the newest is delivered', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const tokens: Array<{ agent_token: string; version: number }> = []
    for (let i = 0; i < 3; i++)
      tokens.push((await (await rotate(m.machineId)).json()) as (typeof tokens)[number])
    expect(tokens.map((t) => t.version)).toEqual([2, 3, 4])
    // Long after: an offline machine's grace starts only when it comes back.
    const realNow = world.server.ctx.now
    world.server.ctx.now = () => new Date(realNow().getTime() + 3600_000)
    let agent: FakeAgent
    try {
      agent = await connect(m)
    } finally {
      world.server.ctx.now = realNow
    }
    const command = (await agent.waitForCommand('agent.token')) as CommandOf<'agent.token'>
    expect(command.version).toBe(4)
    await Bun.sleep(200)
    expect(agent.commands.filter((c) => c.type === 'agent.token')).toHaveLength(1)
    expect(await wsStatus(tokens[0]!.agent_token)).toBe(401)
    expect(await wsStatus(tokens[1]!.agent_token)).toBe(401)
    await connect({ machineId: m.machineId, agentToken: tokens[2]!.agent_token })
    const live = await world.server.ctx.db
      .select()
      .from(agentTokens)
      .where(and(eq(agentTokens.machineId, m.machineId), isNull(agentTokens.revokedAt)))
    expect(live.map((t) => t.version)).toEqual([4])
  })

  test('an immediate rotation keeps the old behaviour: the old token stops at once and the channel is cut', async () => {
    const m = await registerMachine(world.server.request, world.admin)
    const agent = await connect(m)
    const res = await rotate(m.machineId, '?immediate=true')
    expect(((await res.json()) as { mode: string }).mode).toBe('immediate')
    expect((await agent.waitForFrame('goodbye')).reason).toBe('revoked')
    expect(await wsStatus(m.agentToken)).toBe(401)
  })
})
