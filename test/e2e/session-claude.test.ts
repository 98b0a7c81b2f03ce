// The real Claude Code CLI from npm (@anthropic-ai/claude-code) in a session, inside the
// machine's sandbox: the server, the compiled agent binary and claude -p in stream-json mode,
// talking to the fake Anthropic upstream through the proxy. Its home is the user's own (in the
// sandbox), so what it writes under ~/.claude lands in the agent's homes/u-<id>, not in the
// agent user's home.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  cliWithVersion,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  sessionActive,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { REPO_ROOT } from '../support/process.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

const REAL_KEY = 'sk-ant-real-provider-key-0123456789'
const REPLY = 'Hello from the fake Claude.'
const USAGE = { input: 17, output: 6 }

let server: TestServer
let fake: FakeLlm
let agent: RunningAgent
const processes: Subprocess[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  fake = await startFakeLlm({ reply: REPLY, usage: USAGE })
  server = await startTestServer({ listen: true })
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
  await fake?.close()
})

describe('a session through the real Claude Code CLI, sandboxed', () => {
  test('answered through the proxy with the real key; usage counted; its home is the user own', async () => {
    const admin = await server.login()
    const asAdmin = browserApi(server.url, admin)
    const key = await asAdmin.remote['api-keys'].post({
      provider: 'anthropic',
      key_name: 'fake-upstream',
      api_key: REAL_KEY,
      base_url: fake.url,
    })
    expect(key.status).toBeLessThan(300)
    agent = await startAgentBinary({
      serverUrl: server.url,
      cookie: admin,
      track: processes,
      env: { PATH: `${join(REPO_ROOT, 'node_modules/.bin')}:${process.env.PATH}` },
    })
    await waitUntil(machineOnline(server.url, admin, agent.machineId), {
      what: 'agent online',
      timeoutMs: 15_000,
    })
    const machine = (await asAdmin.remote.machines({ id: agent.machineId }).get()).data!.machine
    expect(machine.isolation).toEqual({ level: 'sandbox', mechanism: 'bubblewrap' })
    const claude = await waitUntil(cliWithVersion(server.url, admin, agent.machineId, 'claude-code'), {
      what: "claude-code's version",
      timeoutMs: 30_000,
    })
    expect(claude.version).toBe('2.1.332')
    const user = await createUser(server, admin, 'clara')
    await asAdmin.remote.machines({ id: agent.machineId }).assign.post({ user_id: user.id })

    const asUser = browserApi(server.url, user.cookie)
    const created = await asUser.remote.sessions.post({
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: 'claude-code',
      model: 'claude-sonnet-4-5',
    })
    expect(created.status).toBe(201)
    const id = created.data!.session.session_id
    await waitUntil(sessionActive(server.url, user.cookie, id), { what: 'session active', timeoutMs: 30_000 })
    const session = asUser.remote.sessions({ id })
    const sent = await session.chat.post({ content: 'Say hello.' })
    expect(sent.status).toBe(200)
    await waitUntil(
      async () => {
        const s = (await session.get()).data!.session
        const texts = (s.output ?? []).flatMap((o) =>
          o.event?.kind === 'assistant_text' ? [o.event.text] : [],
        )
        return texts.some((t) => t.includes(REPLY)) ? true : undefined
      },
      { what: 'answer', timeoutMs: 90_000 },
    )

    // Every call reached the fake with the real key, never the proxy token.
    const calls = fake.requests.filter((r) => r.path.endsWith('/messages'))
    expect(calls.length).toBeGreaterThanOrEqual(1)
    for (const r of calls) expect(r.key).toBe(REAL_KEY)
    await waitUntil(
      async () => {
        const s = (await session.get()).data!.session
        return (s.total_tokens ?? 0) >= USAGE.input + USAGE.output ? true : undefined
      },
      { what: 'usage recorded', timeoutMs: 15_000 },
    )

    // Claude's own files went to the user's home kept by the agent, not to the agent user's home.
    const userHome = join(agent.dir, 'homes', `u-${user.id}`)
    expect(existsSync(join(userHome, '.claude')) || existsSync(join(userHome, '.claude.json'))).toBe(true)
    expect(readdirSync(agent.dir)).not.toContain('.claude')

    expect((await session.stop.post()).data?.status).toBe('stopped')
    expect(server.logs.join('\n')).not.toContain(REAL_KEY)
    expect(agent.log()).not.toContain(REAL_KEY)
  }, 240_000)
})
