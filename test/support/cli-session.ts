// One real CLI session end to end, as the e2e tests of per-CLI adapters need it: a key for the
// provider pointing at the fake upstream, the compiled agent (node_modules/.bin on PATH, so the
// CLIs from devDependencies are found), the machine online and sandboxed, a user assigned, and a
// session of `cliTool` started. Returns helpers to chat and to read the session back.
import { afterAll, beforeAll, expect } from 'bun:test'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import type { LlmProvider } from '../../server/db/schema/index.ts'
import {
  cliWithVersion,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  sessionActive,
  startAgentBinary,
} from './agent-binary.ts'
import { browserApi } from './client.ts'
import { type FakeBehaviour, type FakeLlm, startFakeLlm } from './fake-llm.ts'
import { REPO_ROOT } from './process.ts'
import { createUser, startTestServer, type TestServer } from './server.ts'
import { waitUntil } from './wait-until.ts'

export interface CliSessionOptions {
  provider: LlmProvider
  apiKey: string
  baseUrl: string
  cliTool: string
  model: string
  /** The version the agent must detect for cliTool. */
  version: string
  userName: string
  track: Subprocess[]
  /** Directories put first on the agent's PATH (a CLI installed outside node_modules). */
  path?: string[]
}

export type SessionView = {
  output?: { event?: { kind: string; text?: string } }[]
  total_tokens?: number
}

/** A stand-in CLI: `script` written as the executable `name` in a fresh directory, for an agent's PATH. */
export function standInCli(name: string, script: string): string {
  const dir = mkdtempSync(join(tmpdir(), `oa-cli-${name}-`))
  writeFileSync(join(dir, name), script)
  chmodSync(join(dir, name), 0o755)
  return dir
}

export interface CliMachineOptions {
  serverUrl: string
  admin: string
  track: Subprocess[]
  /** A key for the provider pointing at the fake upstream, stored before the agent starts. */
  key?: { provider: LlmProvider; apiKey: string; baseUrl: string }
  /** Directories put first on the agent's PATH (stand-in CLIs, node_modules/.bin). */
  path?: string[]
  /** More agent environment. */
  env?: Record<string, string>
  /** CLI tools to allow on the machine besides the detected ones. */
  allowCliTools?: string[]
  onlineTimeoutMs?: number
}

/** The set-up every real-agent test shares: the upstream key stored, the compiled agent started, the machine online. */
export async function startCliMachine(o: CliMachineOptions): Promise<RunningAgent> {
  if (o.key) {
    const key = await browserApi(o.serverUrl, o.admin).remote['api-keys'].post({
      provider: o.key.provider,
      key_name: 'fake-upstream',
      api_key: o.key.apiKey,
      base_url: o.key.baseUrl,
    })
    expect(key.status).toBeLessThan(300)
  }
  const agent = await startAgentBinary({
    serverUrl: o.serverUrl,
    cookie: o.admin,
    track: o.track,
    ...(o.allowCliTools ? { allowCliTools: o.allowCliTools } : {}),
    env: { ...o.env, PATH: [...(o.path ?? []), process.env.PATH].join(':') },
  })
  await waitUntil(machineOnline(o.serverUrl, o.admin, agent.machineId), {
    what: 'agent online',
    timeoutMs: o.onlineTimeoutMs ?? 15_000,
  })
  return agent
}

export async function startCliSession(server: TestServer, o: CliSessionOptions) {
  const admin = await server.login()
  const agent = await startCliMachine({
    serverUrl: server.url,
    admin,
    track: o.track,
    key: { provider: o.provider, apiKey: o.apiKey, baseUrl: o.baseUrl },
    path: [...(o.path ?? []), join(REPO_ROOT, 'node_modules/.bin')],
  })
  const asAdmin = browserApi(server.url, admin)
  const machine = (await asAdmin.remote.machines({ id: agent.machineId }).get()).data!.machine
  expect(machine.isolation).toEqual({ level: 'sandbox', mechanism: 'bubblewrap' })
  const cli = await waitUntil(cliWithVersion(server.url, admin, agent.machineId, o.cliTool), {
    what: `${o.cliTool}'s version`,
    timeoutMs: 30_000,
  })
  expect(cli.version).toBe(o.version)
  const user = await createUser(server, admin, o.userName)
  await asAdmin.remote.machines({ id: agent.machineId }).assign.post({ user_id: user.id })

  const asUser = browserApi(server.url, user.cookie)
  const created = await asUser.remote.sessions.post({
    machine_id: agent.machineId,
    project_path: join(agent.dir, 'work'),
    cli_tool: o.cliTool,
    model: o.model,
  })
  expect(created.status).toBe(201)
  const id = created.data!.session.session_id
  await waitUntil(sessionActive(server.url, user.cookie, id), { what: 'session active', timeoutMs: 30_000 })
  const session = async () => (await asUser.remote.sessions({ id }).get()).data!.session as SessionView
  return {
    agent,
    session,
    say: (content: string) => asUser.remote.sessions({ id }).chat.post({ content }),
    /** Waits until an assistant_text event contains `reply` (within `timeoutMs`). */
    answered: (reply: string, timeoutMs = 90_000) =>
      waitUntil(
        async () => {
          const s = await session()
          const texts = (s.output ?? [])
            .filter((o) => o.event?.kind === 'assistant_text')
            .map((o) => o.event!.text)
          return texts.some((t) => t?.includes(reply)) ? s : undefined
        },
        { what: `answer "${reply}"`, timeoutMs: timeoutMs },
      ),
    /** Waits until the session's total is exactly `tokens`. */
    totalTokens: (tokens: number) =>
      waitUntil(async () => ((await session()).total_tokens === tokens ? true : undefined), {
        what: 'usage recorded',
        timeoutMs: 15_000,
      }),
    stop: async () => (await asUser.remote.sessions({ id }).stop.post()).data?.status,
  }
}

/** The server, fake upstream and agent processes of one CLI e2e file, started and ended with it. */
export function cliTestbed(behaviour: FakeBehaviour) {
  const bed = { server: undefined as unknown as TestServer, fake: undefined as unknown as FakeLlm }
  const processes: Subprocess[] = []
  beforeAll(async () => {
    await ensureAgentBinary()
    bed.fake = await startFakeLlm(behaviour)
    bed.server = await startTestServer({ listen: true })
  }, 180_000)
  afterAll(async () => {
    for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
    await bed.server?.stop()
    await bed.fake?.close()
  })
  return Object.assign(bed, { processes })
}
