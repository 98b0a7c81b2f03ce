// The real Codex CLI from npm (@openai/codex) in a session, inside the machine's sandbox: the
// server, the compiled agent binary and one `codex exec --json` per message, speaking the OpenAI
// Responses API (streamed) to the fake upstream through the proxy. The second message resumes
// the thread the first one started; usage is counted per turn, from both sides.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  api,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  sessionActive,
  startAgentBinary,
  waitFor,
} from '../support/agent-binary.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { REPO_ROOT } from '../support/process.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'

const REAL_KEY = 'sk-real-openai-key-for-codex-0123456789'
const REPLIES = ['Hello from the fake Codex.', 'Second answer from the fake Codex.'] as const
const USAGE = { input: 23, output: 9 }

let server: TestServer
let fake: FakeLlm
let agent: RunningAgent
const processes: Subprocess[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  fake = await startFakeLlm({ reply: REPLIES[0], usage: USAGE })
  server = await startTestServer({ listen: true })
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
  await fake?.close()
})

type Session = {
  output?: { event?: { kind: string; text?: string } }[]
  total_tokens?: number
}

describe('a session through the real Codex CLI, sandboxed', () => {
  test('Responses API through the proxy with the real key; the thread resumes; usage counted', async () => {
    const admin = await server.login()
    const key = await api(server.url, admin, '/api/remote/api-keys', 'POST', {
      provider: 'openai',
      key_name: 'fake-upstream',
      api_key: REAL_KEY,
      base_url: `${fake.url}/v1`,
    })
    expect(key.status).toBeLessThan(300)
    agent = await startAgentBinary({
      serverUrl: server.url,
      cookie: admin,
      track: processes,
      env: { PATH: `${join(REPO_ROOT, 'node_modules/.bin')}:${process.env.PATH}` },
    })
    await waitFor('agent online', machineOnline(server.url, admin, agent.machineId))
    const machine = (await api(server.url, admin, `/api/remote/machines/${agent.machineId}`)).body.machine!
    expect(machine.isolation).toEqual({ level: 'sandbox', mechanism: 'bubblewrap' })
    const codex = (machine.cli_tools as { name: string; version?: string }[]).find((c) => c.name === 'codex')
    expect(codex?.version).toBe('0.171.0')
    const user = await createUser(server, admin, 'cora')
    await api(server.url, admin, `/api/remote/machines/${agent.machineId}/assign`, 'POST', {
      user_id: user.id,
    })

    const created = await api(server.url, user.cookie, '/api/remote/sessions', 'POST', {
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: 'codex',
      model: 'gpt-5-codex',
    })
    expect(created.status).toBe(201)
    const id = created.body.session!.session_id!
    await waitFor('session active', sessionActive(server.url, user.cookie, id), 30_000)
    const session = async () =>
      (await api(server.url, user.cookie, `/api/remote/sessions/${id}`)).body.session as Session
    const answered = (reply: string) => async () => {
      const s = await session()
      const texts = (s.output ?? [])
        .filter((o) => o.event?.kind === 'assistant_text')
        .map((o) => o.event!.text)
      return texts.some((t) => t?.includes(reply)) ? s : undefined
    }
    const say = (content: string) =>
      api(server.url, user.cookie, `/api/remote/sessions/${id}/chat`, 'POST', { content })

    expect((await say('Say hello.')).status).toBe(200)
    await waitFor('first answer', answered(REPLIES[0]), 90_000)
    const first = fake.requests.filter((r) => r.path === '/v1/responses')
    expect(first).toHaveLength(1)
    expect((first[0]!.json as { stream?: boolean }).stream).toBe(true)

    fake.setBehaviour({ reply: REPLIES[1], usage: USAGE })
    expect((await say('And again.')).status).toBe(200)
    await waitFor('second answer', answered(REPLIES[1]), 90_000)
    const calls = fake.requests.filter((r) => r.path === '/v1/responses')
    expect(calls).toHaveLength(2)
    for (const r of calls) expect(r.key).toBe(REAL_KEY)
    // The second process resumed the thread: the first exchange went back as context.
    expect(calls[1]!.body).toContain('Say hello.')
    expect(calls[1]!.body).toContain(REPLIES[0])

    // Two turns, each counted once: the proxy's count and the CLI's agree on the total.
    await waitFor('usage recorded', async () => {
      const s = await session()
      return s.total_tokens === 2 * (USAGE.input + USAGE.output) ? true : undefined
    })

    expect((await api(server.url, user.cookie, `/api/remote/sessions/${id}/stop`, 'POST')).body.status).toBe(
      'stopped',
    )
    expect(server.logs.join('\n')).not.toContain(REAL_KEY)
    expect(agent.log()).not.toContain(REAL_KEY)
  }, 300_000)
})
