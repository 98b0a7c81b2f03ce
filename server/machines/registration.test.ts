// Registration tokens and agent registration: shape, hashing, one-time use, expiry, races,
// re-registration and input validation.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { hashToken } from '../auth/tokens.ts'
import { agentTokens, auditLog, registrationTokens, remoteMachines, tenants } from '../db/schema/index.ts'

let server: TestServer
let admin: string

beforeAll(async () => {
  server = await startTestServer({ env: { PUBLIC_URL: 'https://ace.example.com' } })
  admin = await server.login()
}, 60_000)
afterAll(async () => {
  await server.stop()
}, 60_000)

async function newToken(tenantId = 1) {
  const res = await server.request('/api/remote/machines/register', {
    method: 'POST',
    cookie: admin,
    json: { tenant_id: tenantId },
  })
  expect(res.status).toBe(200)
  return (await res.json()) as {
    registration_token: string
    expires_at: string
    install: { bash: string; powershell: string }
  }
}

function register(
  token: string,
  machineId: string = crypto.randomUUID(),
  extra: Record<string, unknown> = {},
  agentToken?: string,
) {
  return server.request('/api/remote/agent/register', {
    method: 'POST',
    ...(agentToken ? { headers: { authorization: `Bearer ${agentToken}` } } : {}),
    json: {
      registration_token: token,
      machine_id: machineId,
      machine_name: 'Production Server',
      // One host per machine id: the same hostname would merge into the earlier machine.
      hostname: `prod-${machineId.slice(0, 8)}.example.com`,
      os_type: 'linux',
      os_version: 'Ubuntu 22.04',
      capabilities: { cpu_cores: 16, memory_gb: 64 },
      agent_version: '1.0.0',
      ...extra,
    },
  })
}

describe('registration token', () => {
  test('is 256-bit, stored only as its hash, expires in 24 h, and comes with install commands', async () => {
    const body = await newToken()
    expect(body.registration_token).toMatch(/^[0-9a-f]{64}$/)
    const ttl = Date.parse(body.expires_at) - Date.now()
    expect(ttl).toBeGreaterThan(24 * 3600_000 - 60_000)
    expect(ttl).toBeLessThanOrEqual(24 * 3600_000)
    expect(body.expires_at).toEndWith('Z')
    expect(body.install.bash).toBe(
      `curl -fsSL https://ace.example.com/api/remote/agent/install.sh | bash -s -- --server https://ace.example.com --token ${body.registration_token}`,
    )
    expect(body.install.powershell).toContain('https://ace.example.com/api/remote/agent/install.ps1')
    expect(body.install.powershell).toContain(body.registration_token)
    const rows = await server.ctx.db.select().from(registrationTokens)
    expect(rows.some((r) => r.tokenHash === hashToken(body.registration_token))).toBe(true)
    expect(JSON.stringify(rows)).not.toContain(body.registration_token)
  })

  test('an unknown tenant is a 400 naming tenant_id', async () => {
    const res = await server.request('/api/remote/machines/register', {
      method: 'POST',
      cookie: admin,
      json: { tenant_id: 99 },
    })
    expect(res.status).toBe(400)
    expect((await res.json()).error.field).toBe('tenant_id')
  })
})

describe('agent registration', () => {
  test("the seed's fields give {machine_id, agent_token}; the machine shows as registered", async () => {
    const { registration_token } = await newToken()
    const machineId = crypto.randomUUID()
    const res = await register(registration_token, machineId)
    expect(res.status).toBe(200)
    const body = await res.json()
    expect(body.machine_id).toBe(machineId)
    expect(body.agent_token).toMatch(/^[0-9a-f]{64}$/)
    const [m] = await server.ctx.db
      .select()
      .from(remoteMachines)
      .where(eq(remoteMachines.machineId, machineId))
    expect(m).toMatchObject({
      name: 'Production Server',
      tenantId: 1,
      status: 'offline',
      agentVersion: '1.0.0',
    })
    const [tok] = await server.ctx.db.select().from(agentTokens).where(eq(agentTokens.machineId, machineId))
    expect(tok!.tokenHash).toBe(hashToken(body.agent_token))
    const audit = await server.ctx.db.select().from(auditLog).where(eq(auditLog.event, 'machine.register'))
    expect(audit.some((a) => a.targetId === machineId && a.outcome === 'success')).toBe(true)
    expect(JSON.stringify(audit)).not.toContain(body.agent_token)
  })

  test('a used token is refused the second time (401), and that is audited', async () => {
    const { registration_token } = await newToken()
    expect((await register(registration_token)).status).toBe(200)
    const again = await register(registration_token)
    expect(again.status).toBe(401)
    expect((await again.json()).error).toMatchObject({
      type: 'invalid_registration_token',
      field: 'registration_token',
    })
    const denied = await server.ctx.db.select().from(auditLog).where(eq(auditLog.outcome, 'denied'))
    expect(denied.some((a) => a.event === 'machine.register')).toBe(true)
  })

  test('an expired token is refused', async () => {
    const { registration_token } = await newToken()
    const realNow = server.ctx.now
    server.ctx.now = () => new Date(Date.now() + 25 * 3600_000)
    try {
      expect((await register(registration_token)).status).toBe(401)
    } finally {
      server.ctx.now = realNow
    }
    expect((await register(registration_token)).status).toBe(200)
  })

  test('two concurrent registrations with one token: exactly one wins', async () => {
    const { registration_token } = await newToken()
    const results = await Promise.all(Array.from({ length: 5 }, () => register(registration_token)))
    const statuses = results.map((r) => r.status).sort()
    expect(statuses).toEqual([200, 401, 401, 401, 401])
  })

  test('a registered machine_id is taken only with its agent token; a refusal spends nothing', async () => {
    const machineId = crypto.randomUUID()
    const first = await (await register((await newToken()).registration_token, machineId)).json()
    const { registration_token } = await newToken()
    const hijack = await register(registration_token, machineId, { machine_name: 'attacker' })
    expect(hijack.status).toBe(409)
    expect((await hijack.json()).error.type).toBe('machine_id_taken')
    const wrong = await register(registration_token, machineId, {}, 'f'.repeat(64))
    expect(wrong.status).toBe(409)
    const [row] = await server.ctx.db
      .select()
      .from(remoteMachines)
      .where(eq(remoteMachines.machineId, machineId))
    expect(row!.name).toBe('Production Server')
    // Re-install: the same machine proves itself with its agent token; the old token dies.
    const second = await (
      await register(registration_token, machineId, { agent_version: '1.1.0' }, first.agent_token)
    ).json()
    expect(second.agent_token).not.toBe(first.agent_token)
    const poll = (token: string) =>
      server.request('/api/remote/agent/message', {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        json: { events: [], wait: false },
      })
    expect((await poll(first.agent_token)).status).toBe(401)
    expect((await poll(second.agent_token)).status).toBe(200)
  })

  test("another tenant's machine_id gets the same answer as a wrong proof, and the token is not spent", async () => {
    await server.ctx.db.insert(tenants).values({ id: 3, name: 'tenant-three' }).onConflictDoNothing()
    const machineId = crypto.randomUUID()
    const first = await (await register((await newToken(1)).registration_token, machineId)).json()
    const { registration_token } = await newToken(3)
    const other = await register(registration_token, machineId)
    const proven = await register(registration_token, machineId, {}, first.agent_token)
    expect(other.status).toBe(409)
    expect(proven.status).toBe(409)
    expect(await other.json()).toEqual(await proven.json())
    expect((await register(registration_token)).status).toBe(200)
  })

  test('bad input names the field; nothing is written', async () => {
    const { registration_token } = await newToken()
    const res = await register(registration_token, 'bad id with spaces')
    expect(res.status).toBe(400)
    expect((await res.json()).error.field).toBe('machine_id')
    const missing = await server.request('/api/remote/agent/register', {
      method: 'POST',
      json: { registration_token },
    })
    expect(missing.status).toBe(400)
    expect((await register(registration_token)).status).toBe(200)
  })
})
