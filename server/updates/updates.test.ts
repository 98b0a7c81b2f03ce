// Self-update on the server with fake agents over the real app: what agent.update carries, when
// it is sent and held back (auto-update, window, earlier failure, live sessions, force), what
// the agent reports, the admin's "update now" and its refusals.
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { eq } from 'drizzle-orm'
import type { CommandOf } from '../../protocol/index.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { agentCommands, auditLog, remoteMachines, sessions } from '../db/schema/index.ts'

const SHA = 'd'.repeat(64)
const BINARY = 'open-ace-agent-linux-x64'
const dist = mkdtempSync(join(tmpdir(), 'oa-updates-'))
let server: TestServer
let admin: string
const agents: FakeAgent[] = []
const UPDATABLE = { ...FAKE_CAPABILITIES, update_target: 'linux-x64' }

function serve(version: string | null) {
  rmSync(join(dist, 'VERSION'), { force: true })
  if (version) writeFileSync(join(dist, 'VERSION'), `${version}\n`)
  writeFileSync(join(dist, 'SHA256SUMS'), `${SHA}  ${BINARY}\n`)
}

beforeAll(async () => {
  serve('2.0.0')
  // A long check interval: these tests drive the triggers themselves (hello, the admin).
  server = await startTestServer({
    listen: true,
    env: { AGENT_DIST_DIR: dist, AGENT_UPDATE_CHECK_INTERVAL_SECONDS: '3600', AGENT_OFFLINE_GRACE_MS: '100' },
  })
  admin = await server.login()
}, 60_000)
afterEach(async () => {
  for (const a of agents.splice(0)) await a.close()
  serve('2.0.0')
})
afterAll(async () => {
  await server.stop()
  rmSync(dist, { recursive: true, force: true })
}, 60_000)

async function connect(
  m: { machineId: string; agentToken: string },
  options: {
    capabilities?: Record<string, unknown>
    agentVersion?: string
    helloExtra?: Record<string, unknown>
  } = {},
) {
  const agent = await FakeAgent.connectTo(server.url, m, {
    capabilities: UPDATABLE,
    ...options,
    track: agents,
  })
  await waitUntil(async () => (await row(m.machineId)).status === 'online', { what: 'machine online' })
  return agent
}

const row = async (id: string) =>
  (await server.ctx.db.select().from(remoteMachines).where(eq(remoteMachines.machineId, id)))[0]!
const view = async (id: string) => {
  const res = await server.request(`/api/remote/machines/${id}`, { cookie: admin })
  return ((await res.json()) as { machine: Record<string, unknown> }).machine
}
const updates = (agent: FakeAgent) => agent.commands.filter((c) => c.type === 'agent.update')
/**
 * agent.update commands queued for the machine. The offer is decided while the hello is
 * handled, before the welcome goes out, so after the welcome this count is final.
 */
const queued = async (id: string) =>
  (await server.ctx.db.select().from(agentCommands).where(eq(agentCommands.machineId, id))).filter(
    (c) => c.kind === 'agent.update',
  ).length
const askUpdate = (id: string, json: Record<string, unknown> = {}, cookie = admin) =>
  server.request(`/api/remote/machines/${id}/update`, { method: 'POST', cookie, json })
const setSettings = (id: string, json: Record<string, unknown>) =>
  server.request(`/api/remote/machines/${id}/settings`, { method: 'PATCH', cookie: admin, json })

describe('offers on connect', () => {
  test('an agent on another version that can update itself gets agent.update for its target', async () => {
    const m = await registerMachine(server.request, admin)
    const agent = await connect(m)
    const cmd = (await agent.waitForCommand('agent.update')) as CommandOf<'agent.update'>
    expect(cmd).toMatchObject({
      version: '2.0.0',
      url: `/api/remote/agent/files/${BINARY}`,
      sha256: SHA,
      force: false,
    })
    expect((await view(m.machineId)).update).toMatchObject({ state: 'sent', version: '2.0.0', error: null })
    expect((await view(m.machineId)).self_update).toBe(true)
  })

  test('nothing is sent to an agent that cannot update itself, is current, or when nothing is built', async () => {
    const plain = await connect(await registerMachine(server.request, admin), {
      capabilities: FAKE_CAPABILITIES,
    })
    const current = await connect(await registerMachine(server.request, admin), { agentVersion: '2.0.0' })
    serve(null)
    const unbuilt = await connect(await registerMachine(server.request, admin))
    for (const a of [plain, current, unbuilt]) expect(await queued(a.options.machineId)).toBe(0)
  })

  test('automatic offers follow auto_update and the window; an admin request overrides both', async () => {
    const m = await registerMachine(server.request, admin)
    const hour = new Date().getUTCHours()
    const elsewhere = `${String((hour + 3) % 24).padStart(2, '0')}:00-${String((hour + 4) % 24).padStart(2, '0')}:00`
    expect((await setSettings(m.machineId, { update_window: elsewhere })).status).toBe(200)
    const agent = await connect(m)
    expect(await queued(m.machineId)).toBe(0)
    expect((await view(m.machineId)).update_window).toBe(elsewhere)

    const res = await askUpdate(m.machineId)
    expect(res.status).toBe(202)
    expect(((await res.json()) as { outcome: string }).outcome).toBe('sent')
    await agent.waitForCommand('agent.update')

    const off = await registerMachine(server.request, admin)
    expect((await setSettings(off.machineId, { auto_update: false })).status).toBe(200)
    await connect(off)
    expect(await queued(off.machineId)).toBe(0)
  })

  test('a bad window is a 400 naming the field', async () => {
    const m = await registerMachine(server.request, admin)
    const res = await setSettings(m.machineId, { update_window: '25:00-26:00' })
    expect(res.status).toBe(400)
    expect(JSON.stringify(await res.json())).toContain('update_window')
  })
})

describe('what the agent reports', () => {
  test('progress and a failure with its reason are stored; the failed version is not offered again by itself', async () => {
    const m = await registerMachine(server.request, admin)
    const agent = await connect(m)
    await agent.waitForCommand('agent.update')
    await agent.send({ type: 'agent.update_status', version: '2.0.0', state: 'downloading' })
    await waitUntil(async () => (await row(m.machineId)).updateState === 'downloading', {
      what: 'downloading',
    })
    await agent.send({
      type: 'agent.update_status',
      version: '2.0.0',
      state: 'failed',
      reason: 'checksum mismatch: nothing was replaced',
    })
    await waitUntil(async () => (await row(m.machineId)).updateState === 'failed', { what: 'failed' })
    expect((await view(m.machineId)).update).toMatchObject({
      state: 'failed',
      version: '2.0.0',
      error: 'checksum mismatch: nothing was replaced',
    })
    await agent.close()
    const sentBefore = await queued(m.machineId)
    const again = await connect(m)
    expect(await queued(m.machineId)).toBe(sentBefore)
    // The admin asks again: it is sent.
    expect((await askUpdate(m.machineId)).status).toBe(202)
    await again.waitForCommand('agent.update')
  })

  test('a rollback carried in hello is stored before any new offer; success clears the update', async () => {
    const m = await registerMachine(server.request, admin)
    const agent = await connect(m, {
      helloExtra: {
        update: { version: '2.0.0', state: 'rolled_back', reason: 'version 2.0.0 exited with code 3' },
      },
    })
    await waitUntil(async () => (await row(m.machineId)).updateState === 'rolled_back', {
      what: 'rolled back',
    })
    expect(await queued(m.machineId)).toBe(0)
    expect((await view(m.machineId)).update).toMatchObject({
      state: 'rolled_back',
      error: 'version 2.0.0 exited with code 3',
    })
    await agent.close()

    expect((await askUpdate(m.machineId)).status).toBe(202)
    const updated = await connect(m, { agentVersion: '2.0.0' })
    await waitUntil(async () => (await row(m.machineId)).updateState === null, { what: 'update cleared' })
    expect((await view(m.machineId)).update).toBeNull()
    // The old process's last report, spooled before the restart, arrives late: it is history.
    await updated.send({ type: 'agent.update_status', id: 'late-1', version: '2.0.0', state: 'restarting' })
    await waitUntil(() => updated.frames.find((f) => f.type === 'received' && f.ids.includes('late-1')), {
      what: "updated.frames.find((f) => f.type === 'received' && f.ids.includes(...",
    })
    expect((await view(m.machineId)).update).toBeNull()
  })
})

describe('update now', () => {
  test('an offline machine waits for its connection; a live session holds it back unless forced', async () => {
    const m = await registerMachine(server.request, admin)
    expect((await setSettings(m.machineId, { auto_update: false })).status).toBe(200)
    await (await connect(m)).close()
    await waitUntil(async () => (await row(m.machineId)).status === 'offline', {
      what: 'machine offline',
      timeoutMs: 15_000,
    })
    const offline = await askUpdate(m.machineId)
    expect(offline.status).toBe(202)
    expect(await offline.json()).toMatchObject({ outcome: 'waiting_offline', update: { state: 'requested' } })

    await server.ctx.db.insert(sessions).values({
      tenantId: 1,
      userId: 1,
      remoteMachineId: m.machineId,
      projectPath: '/p',
      cliTool: 'qwen-code',
      status: 'active',
    })
    const agent = await connect(m)
    expect(await queued(m.machineId)).toBe(0)
    expect((await view(m.machineId)).update).toMatchObject({ state: 'requested' })

    const forced = await askUpdate(m.machineId, { force: true })
    expect(await forced.json()).toMatchObject({ outcome: 'sent', update: { state: 'sent', force: true } })
    const cmd = (await agent.waitForCommand('agent.update')) as CommandOf<'agent.update'>
    expect(cmd.force).toBe(true)
    const [audit] = await server.ctx.db.select().from(auditLog).where(eq(auditLog.targetId, m.machineId))
    expect(audit).toBeDefined()
  })

  test('refusals say why: current, cannot update itself, nothing built; unknown machine 404; users 403', async () => {
    const current = await registerMachine(server.request, admin)
    await connect(current, { agentVersion: '2.0.0' })
    const currentRes = await askUpdate(current.machineId)
    expect(currentRes.status).toBe(409)
    expect(((await currentRes.json()) as { error: { type: string } }).error.type).toBe('agent_current')

    const plain = await registerMachine(server.request, admin)
    await connect(plain, { capabilities: FAKE_CAPABILITIES })
    const plainRes = await askUpdate(plain.machineId)
    expect(plainRes.status).toBe(409)
    const plainBody = (await plainRes.json()) as { error: { type: string; message: string } }
    expect(plainBody.error.type).toBe('self_update_unsupported')
    expect(plainBody.error.message).toContain('install script')

    serve(null)
    const unbuilt = await askUpdate(plain.machineId)
    expect(unbuilt.status).toBe(409)
    expect(((await unbuilt.json()) as { error: { message: string } }).error.message).toContain(
      'bun run build:agent',
    )
    serve('2.0.0')

    expect((await askUpdate('no-such-machine')).status).toBe(404)
    const user = await createUser(server, admin, `upd-${crypto.randomUUID().slice(0, 6)}`)
    expect((await askUpdate(plain.machineId, {}, user.cookie)).status).toBe(403)
  })

  test('update-all asks every outdated machine that can update itself and lists the rest', async () => {
    serve('3.0.0')
    const a = await registerMachine(server.request, admin)
    const b = await registerMachine(server.request, admin)
    const agentA = await connect(a)
    const agentB = await connect(b)
    const res = await server.request('/api/remote/machines/update-all', {
      method: 'POST',
      cookie: admin,
      json: {},
    })
    expect(res.status).toBe(202)
    const body = (await res.json()) as { version: string; requested: { machine_id: string }[] }
    expect(body.version).toBe('3.0.0')
    const ids = body.requested.map((r) => r.machine_id)
    expect(ids).toContain(a.machineId)
    expect(ids).toContain(b.machineId)
    for (const agent of [agentA, agentB])
      await waitUntil(
        () => updates(agent).find((c) => (c as CommandOf<'agent.update'>).version === '3.0.0'),
        { what: "updates(agent).find((c) => (c as CommandOf<'agent.update'>).version..." },
      )
  })
})
