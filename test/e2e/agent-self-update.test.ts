// Agent self-update with two real builds of the agent binary that differ only in the version
// they report (build:agent --version), against a real server process: the old one updates
// itself to the new one and comes back online as it (same process, re-executed); a new binary
// that exits at start, or never connects, is rolled back and the reason reported; a checksum
// mismatch is refused with nothing replaced; a machine with a live session updates only after
// the session ends. The server's AGENT_DIST_DIR is rewritten per test (it is read on each use).
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test'
import { createHash } from 'node:crypto'
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { AGENT_TARGETS, buildAgent } from '../../scripts/build-agent.ts'
import {
  adminCookie,
  allowCliTools,
  type RunningAgent,
  startAgentBinary,
  writeCountingCli,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { killGroup, type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { waitUntil } from '../support/wait-until.ts'

const BINARY_NAME = AGENT_TARGETS['linux-x64']
const OLD = '0.0.1-e2e-old'
const NEW = '0.0.2-e2e-new'
const work = mkdtempSync(join(tmpdir(), 'oa-self-update-'))
const served = join(work, 'served')
const builds = { old: join(work, 'old'), new: join(work, 'new') }
const agents: Subprocess[] = []
let server: ServerProcess
let cookie: string
let fakeCliDir: string

const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

/** What the server offers: a binary, the version it claims, and the sum it lists for it. */
function serve(binary: string, version: string, sum = sha256(binary)) {
  rmSync(served, { recursive: true, force: true })
  mkdirSync(served)
  copyFileSync(binary, join(served, BINARY_NAME))
  writeFileSync(join(served, 'SHA256SUMS'), `${sum}  ${BINARY_NAME}\n`)
  writeFileSync(join(served, 'VERSION'), `${version}\n`)
}

/** A stand-in "new version" that answers `version` like the real one and then misbehaves on `run`. */
function scriptBinary(version: string, run: string): string {
  const path = join(work, `script-${crypto.randomUUID().slice(0, 8)}`)
  writeFileSync(path, `#!/bin/sh\nif [ "$1" = version ]; then echo ${version}; exit 0; fi\n${run}\n`)
  chmodSync(path, 0o755)
  return path
}

beforeAll(async () => {
  // Two builds, once for the whole file: same sources, different stamped versions.
  await buildAgent({ targets: ['linux-x64'], version: OLD, outDir: builds.old, log: () => {} })
  await buildAgent({ targets: ['linux-x64'], version: NEW, outDir: builds.new, log: () => {} })
  fakeCliDir = writeCountingCli(5)
  serve(join(builds.old, BINARY_NAME), OLD)
  server = await spawnServer({
    env: await serverEnv({
      AGENT_DIST_DIR: served,
      AGENT_HEARTBEAT_INTERVAL_SECONDS: '1',
      AGENT_LONG_POLL_TIMEOUT_MS: '2000',
      AGENT_OFFLINE_GRACE_MS: '2000',
      AGENT_UPDATE_CHECK_INTERVAL_SECONDS: '1',
    }),
  })
  cookie = await adminCookie(server.url)
}, 180_000)

afterEach(async () => {
  for (const a of agents.splice(0)) {
    killGroup(a, 'SIGKILL')
    await a.exited
  }
})

afterAll(async () => {
  await server?.stop('SIGKILL')
  rmSync(work, { recursive: true, force: true })
})

/** Registers and runs a copy of the old build in its own directory (the file an update replaces). */
async function startOldAgent(env: Record<string, string> = {}): Promise<RunningAgent & { binary: string }> {
  const binDir = mkdtempSync(join(work, 'bin-'))
  const binary = join(binDir, 'open-ace-agent')
  copyFileSync(join(builds.old, BINARY_NAME), binary)
  chmodSync(binary, 0o755)
  const agent = await startAgentBinary({
    serverUrl: server.url,
    cookie,
    track: agents,
    binary,
    env: {
      PATH: `${fakeCliDir}:${process.env.PATH}`,
      OPENACE_RECONNECT_BASE_DELAY: '0.2',
      OPENACE_RECONNECT_MAX_DELAY: '1',
      OPENACE_UPDATE_ROLLBACK_TIMEOUT: '20',
      ...env,
    },
  })
  return { ...agent, binary }
}

/** The typed client as the admin (the cookie is set once the server is up). */
const asAdmin = () => browserApi(server.url, cookie)

async function machine(id: string) {
  return (await asAdmin().remote.machines({ id }).get()).data!.machine
}

type UpdateView = { state: string; version: string; error: string | null } | null

/** Waits until the machine is online and connected running `version`, with no update pending. */
const onlineAs = (id: string, version: string) => async () => {
  const m = await machine(id)
  return m.status === 'online' && m.connected && m.agent_version === version && m.update === null
    ? m
    : undefined
}

const updateState = (id: string, state: string) => async () => {
  const update = (await machine(id)).update as UpdateView
  return update?.state === state ? update : undefined
}

/** update.json is settled once the agent has its welcome, which may come just after the server shows it online. */
const updateSettled = (dir: string) =>
  waitUntil(async () => (existsSync(join(dir, 'update.json')) ? undefined : true), {
    what: 'update.json settled',
    timeoutMs: 15_000,
  })

describe('agent self-update', () => {
  test('the old binary updates itself to the new one and comes back online as it, same process', async () => {
    const agent = await startOldAgent()
    await waitUntil(onlineAs(agent.machineId, OLD), { what: 'online on the old version', timeoutMs: 60_000 })
    // The machine shows online when the socket opens; the hello's capabilities land just after.
    await waitUntil(async () => ((await machine(agent.machineId)).self_update === true ? true : undefined), {
      what: 'the self-update capability from hello',
      timeoutMs: 15_000,
    })

    serve(join(builds.new, BINARY_NAME), NEW)
    const online = await waitUntil(onlineAs(agent.machineId, NEW), {
      what: 'online on the new version',
      timeoutMs: 120_000,
    })
    expect(online.agent_version).toBe(NEW)
    // Re-executed in place: the process the test started is still the agent.
    expect(agent.proc.exitCode).toBeNull()
    expect(sha256(agent.binary)).toBe(sha256(join(builds.new, BINARY_NAME)))
    expect(sha256(`${agent.binary}.previous`)).toBe(sha256(join(builds.old, BINARY_NAME)))
    await updateSettled(agent.dir)
    const versions = (await asAdmin().remote.machines.versions.get()).data!
    expect(versions.served_version).toBe(NEW)
  }, 240_000)

  test('a checksum mismatch is refused and reported; nothing is replaced', async () => {
    serve(join(builds.old, BINARY_NAME), OLD)
    const agent = await startOldAgent()
    await waitUntil(onlineAs(agent.machineId, OLD), { what: 'online on the old version', timeoutMs: 60_000 })

    serve(join(builds.new, BINARY_NAME), NEW, 'ab'.repeat(32))
    const failed = await waitUntil(updateState(agent.machineId, 'failed'), {
      what: 'the update failed',
      timeoutMs: 120_000,
    })
    expect(failed!.version).toBe(NEW)
    expect(failed!.error).toContain('checksum mismatch')
    expect(failed!.error).toContain('nothing was replaced')
    const m = await machine(agent.machineId)
    expect(m.agent_version).toBe(OLD)
    expect(m.status).toBe('online')
    expect(sha256(agent.binary)).toBe(sha256(join(builds.old, BINARY_NAME)))
    expect(existsSync(`${agent.binary}.previous`)).toBe(false)
    expect(existsSync(`${agent.binary}.download`)).toBe(false)
  }, 240_000)

  test('a new binary that exits at start is rolled back, and the failure reported', async () => {
    serve(join(builds.old, BINARY_NAME), OLD)
    const agent = await startOldAgent()
    await waitUntil(onlineAs(agent.machineId, OLD), { what: 'online on the old version', timeoutMs: 60_000 })

    const broken = scriptBinary('0.0.3-e2e-broken', 'echo "broken build" >&2; exit 3')
    serve(broken, '0.0.3-e2e-broken')
    const rolledBack = await waitUntil(updateState(agent.machineId, 'rolled_back'), {
      what: 'rolled back',
      timeoutMs: 120_000,
    })
    expect(rolledBack!.version).toBe('0.0.3-e2e-broken')
    expect(rolledBack!.error).toContain('exited with code 3 before it connected')
    await waitUntil(
      async () => {
        const m = await machine(agent.machineId)
        return m.status === 'online' && m.connected ? m : undefined
      },
      { what: 'online again', timeoutMs: 60_000 },
    )
    const m = await machine(agent.machineId)
    expect(m.agent_version).toBe(OLD)
    expect(agent.proc.exitCode).toBeNull()
    expect(sha256(agent.binary)).toBe(sha256(join(builds.old, BINARY_NAME)))
    await updateSettled(agent.dir)
    // A version that failed here is not offered again on its own.
    const checks = await asAdmin().remote.machines({ id: agent.machineId }).get()
    expect((checks.data!.machine.update as UpdateView)?.state).toBe('rolled_back')
  }, 240_000)

  test('a new binary that never connects is rolled back after the rollback timeout', async () => {
    serve(join(builds.old, BINARY_NAME), OLD)
    const agent = await startOldAgent({ OPENACE_UPDATE_ROLLBACK_TIMEOUT: '3' })
    await waitUntil(onlineAs(agent.machineId, OLD), { what: 'online on the old version', timeoutMs: 60_000 })

    serve(scriptBinary('0.0.4-e2e-silent', 'exec sleep 600'), '0.0.4-e2e-silent')
    const rolledBack = await waitUntil(updateState(agent.machineId, 'rolled_back'), {
      what: 'rolled back',
      timeoutMs: 120_000,
    })
    expect(rolledBack!.error).toContain('did not connect to the server within 3 s')
    await waitUntil(
      async () => {
        const m = await machine(agent.machineId)
        return m.status === 'online' && m.connected && m.agent_version === OLD ? m : undefined
      },
      { what: 'online again', timeoutMs: 60_000 },
    )
    expect(sha256(agent.binary)).toBe(sha256(join(builds.old, BINARY_NAME)))
  }, 240_000)

  test('a machine with a live session updates only after the session ends', async () => {
    serve(join(builds.old, BINARY_NAME), OLD)
    const agent = await startOldAgent()
    await waitUntil(onlineAs(agent.machineId, OLD), { what: 'online on the old version', timeoutMs: 60_000 })
    await allowCliTools(server.url, cookie, agent.machineId, ['counting-cli'])
    const created = await asAdmin().remote.sessions.post({
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: 'counting-cli',
    })
    expect([200, 201]).toContain(created.status)
    const session = asAdmin().remote.sessions({ id: created.data!.session.session_id })
    await waitUntil(
      async () => {
        const s = (await session.get()).data!.session
        return s.status === 'active' ? true : undefined
      },
      { what: 'session active', timeoutMs: 60_000 },
    )

    serve(join(builds.new, BINARY_NAME), NEW)
    const asked = await asAdmin().remote.machines({ id: agent.machineId }).update.post({})
    expect(asked.status).toBe(202)
    expect(asked.data!.outcome).toBe('waiting_sessions')
    expect((asked.data!.update as UpdateView)?.state).toBe('requested')
    // The periodic check runs every second; for several of them the machine stays as it is.
    const until = Date.now() + 4000
    while (Date.now() < until) {
      const m = await machine(agent.machineId)
      expect(m.agent_version).toBe(OLD)
      expect((m.update as UpdateView)?.state).toBe('requested')
      await Bun.sleep(250)
    }
    expect(sha256(agent.binary)).toBe(sha256(join(builds.old, BINARY_NAME)))

    const stopped = await session.stop.post()
    expect(stopped.status).toBe(200)
    await waitUntil(onlineAs(agent.machineId, NEW), { what: 'online on the new version', timeoutMs: 120_000 })
    const s = (await session.get()).data!.session
    expect(s.status).toBe('stopped')
  }, 240_000)
})
