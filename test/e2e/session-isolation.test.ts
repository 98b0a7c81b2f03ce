// Users share a machine and their CLIs run shell commands. With the real agent binary and a
// hostile stand-in CLI (fixtures/hostile-cli.mjs), one user's session tries to steal the
// agent's token, its spool and state, every session's proxy token, another user's project and
// environment, to read or trace the agent's process and to post as the agent with anything it
// found. In the sandbox every try fails; with isolation turned off the machine says 'none' and
// the same CLI gets the agent's token, which shows the tries are real.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  sessionActive,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi, reply } from '../support/client.ts'
import { REPO_ROOT } from '../support/process.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

const CLI = 'hostile-cli'
const FIXTURES = join(REPO_ROOT, 'test/e2e/fixtures')
const TRIES = [
  'config_json',
  'outbox_spool',
  'state_json',
  'sessions_dir',
  'other_project',
  'other_project_listing',
  'other_session_env',
  'agent_environ',
  'agent_mem',
  'agent_signal',
  'ptrace_gdb',
  'agent_channel',
] as const
type Results = Record<(typeof TRIES)[number], { ok: boolean; seen: string }>

let server: TestServer
let admin: string
let hostileBin: string
const processes: Subprocess[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  // The fixture is copied next to a launcher named as the tool is allowed, on the agent's PATH.
  const bin = mkdtempSync(join(tmpdir(), 'oa-hostile-bin-'))
  copyFileSync(join(FIXTURES, 'hostile-cli.mjs'), join(bin, 'hostile-cli.mjs'))
  writeFileSync(join(bin, CLI), `#!/bin/sh\nexec node ${join(bin, 'hostile-cli.mjs')} "$@"\n`, {
    mode: 0o755,
  })
  hostileBin = bin
  server = await startTestServer({ listen: true })
  admin = await server.login()
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
})

interface Machine {
  agent: RunningAgent
  victim: { id: string; project: string }
  attacker: { id: string; cookie: string }
}

async function machineWithTwoUsers(isolation: 'auto' | 'none', names: [string, string]): Promise<Machine> {
  const agent = await startAgentBinary({
    serverUrl: server.url,
    cookie: admin,
    track: processes,
    allowCliTools: [CLI],
    env: { PATH: `${hostileBin}:${process.env.PATH}`, OPENACE_ISOLATION: isolation },
  })
  await waitUntil(machineOnline(server.url, admin, agent.machineId), {
    what: 'agent online',
    timeoutMs: 15_000,
  })
  const session = async (name: string) => {
    const user = await createUser(server, admin, name)
    await as(admin).remote.machines({ id: agent.machineId }).assign.post({ user_id: user.id })
    const project = join(agent.dir, 'work', name)
    mkdirSync(project, { recursive: true })
    writeFileSync(join(project, 'secret.txt'), `${name}'s private work`)
    const created = await as(user.cookie).remote.sessions.post({
      machine_id: agent.machineId,
      project_path: project,
      cli_tool: CLI,
    })
    expect(created.status).toBe(201)
    const id = created.data!.session.session_id
    await waitUntil(sessionActive(server.url, user.cookie, id), { what: 'session active', timeoutMs: 30_000 })
    return { id, project, cookie: user.cookie }
  }
  const victim = await session(names[0])
  const attacker = await session(names[1])
  return { agent, victim, attacker }
}

/** The typed client as the holder of `cookie`. */
const as = (cookie: string) => browserApi(server.url, cookie)

async function attack(m: Machine): Promise<Results> {
  const order = {
    agent_dir: m.agent.dir,
    other_project: m.victim.project,
    agent_pid: m.agent.proc.pid,
    server_url: server.url,
    victim_session: m.victim.id,
  }
  const attacker = as(m.attacker.cookie).remote.sessions({ id: m.attacker.id })
  const sent = await attacker.chat.post({ content: `attack ${JSON.stringify(order)}` })
  expect(sent.status).toBe(200)
  const line = await waitUntil(
    async () => {
      const s = (await attacker.get()).data!.session
      return s.output?.find((o) => o.data.startsWith('RESULT '))?.data
    },
    { what: 'attack results', timeoutMs: 60_000 },
  )
  return JSON.parse(line.slice('RESULT '.length)) as Results
}

const capabilities = async (machineId: string) =>
  (await as(admin).remote.machines({ id: machineId }).get()).data!.machine

describe('sessions isolated from the agent and from each other', () => {
  test('in the sandbox every try of a hostile CLI fails', async () => {
    const m = await machineWithTwoUsers('auto', ['vera', 'mallory'])
    const machine = await capabilities(m.agent.machineId)
    expect(machine.isolation).toEqual({ level: 'sandbox', mechanism: 'bubblewrap' })
    // The things it goes for exist and hold secrets on the host.
    const agentToken = JSON.parse(readFileSync(join(m.agent.dir, 'config.json'), 'utf8'))
      .agent_token as string
    expect(agentToken.length).toBeGreaterThan(20)
    await waitUntil(async () => (readdirSync(m.agent.dir).includes('state.json') ? true : undefined), {
      what: 'state.json written',
      timeoutMs: 15_000,
    })
    const victimRecord = readFileSync(join(m.agent.dir, 'sessions', m.victim.id, 'session.json'), 'utf8')
    const victimToken = JSON.parse(victimRecord).start.proxy_token as string
    expect(victimToken).toStartWith('oa-pt.')

    const r = await attack(m)
    for (const name of TRIES) {
      expect({ name, ...r[name] }).toMatchObject({ name, ok: false })
    }
    const everything = JSON.stringify(r)
    expect(everything).not.toContain(agentToken)
    expect(everything).not.toContain(victimToken)
    expect(everything).not.toContain("vera's private work")
    expect(r.config_json.seen).toContain('ENOENT')
    expect(r.agent_environ.seen).toContain('ENOENT')
    expect(r.agent_signal.seen).toContain('ESRCH')
    // Its own proxy token was tried as an agent token and refused.
    expect(r.agent_channel.seen).toBe('401')
    const victimOutput = (await as(admin).remote.sessions({ id: m.victim.id }).get()).data!.session.output
    expect(victimOutput.map((o) => o.data)).not.toContain('FORGED')
    // The victim's CLI still runs with its own token (its environment was merely out of reach).
    expect((await as(admin).remote.sessions({ id: m.victim.id }).get()).data!.session.status).toBe('active')
  }, 180_000)

  test("with isolation turned off the machine reports 'none', and the same CLI gets the agent's token", async () => {
    const m = await machineWithTwoUsers('none', ['nora', 'eve'])
    const machine = await capabilities(m.agent.machineId)
    expect((machine.isolation as { level: string }).level).toBe('none')
    expect((machine.isolation as { detail: string }).detail).toContain('turned off')
    const agentToken = JSON.parse(readFileSync(join(m.agent.dir, 'config.json'), 'utf8'))
      .agent_token as string
    const r = await attack(m)
    expect(r.config_json.ok).toBe(true)
    expect(r.config_json.seen).toContain(agentToken.slice(0, 20))
    expect(r.other_project.ok).toBe(true)
    // With the agent's token it posts as the agent: what the sandbox exists to prevent.
    expect(r.agent_channel.ok).toBe(true)
    // An admin who requires a sandbox gets no more sessions on this machine.
    const required = await as(admin)
      .remote.machines({ id: m.agent.machineId })
      .settings.patch({ required_isolation: 'sandbox' })
    expect(required.status).toBe(200)
    // reply(): the refusal's error body, whose shape the App type does not name.
    const refused = await reply(
      as(m.attacker.cookie).remote.sessions.post({
        machine_id: m.agent.machineId,
        project_path: m.victim.project,
        cli_tool: CLI,
      }),
    )
    expect(refused.status).toBe(409)
    expect(refused.body.error.message).toContain("isolates sessions at level 'none'")
  }, 180_000)
})
