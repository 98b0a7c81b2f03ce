// The user's main job with nothing faked but the LLM provider: the server, the compiled agent
// binary and the real Qwen Code CLI from npm, talking to a fake OpenAI upstream on loopback.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  sessionActive,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { proxyChat } from '../support/llm-proxy.ts'
import { REPO_ROOT } from '../support/process.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { readSse } from '../support/sse.ts'
import { waitUntil } from '../support/wait-until.ts'

const REAL_KEY = 'sk-real-provider-key-0123456789abcdef'
const REPLIES = ['Hello from the fake model.', 'Second answer, also fake.']
const USAGE = { input: 21, output: 8 }

let server: TestServer
let fake: FakeLlm
let agent: RunningAgent
const processes: Subprocess[] = []

/** Processes running in the project directory: the CLI and anything it started. */
function processesIn(dir: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) === dir) pids.push(Number(entry))
    } catch {}
  }
  return pids
}

function environOf(pid: number): Record<string, string> {
  const raw = readFileSync(`/proc/${pid}/environ`, 'utf8')
  return Object.fromEntries(
    raw
      .split('\0')
      .filter(Boolean)
      .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  )
}

beforeAll(async () => {
  await ensureAgentBinary()
  fake = await startFakeLlm({ reply: REPLIES[0], usage: USAGE })
  server = await startTestServer({ listen: true, env: { LOG_LEVEL: 'info' } })
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
  await fake?.close()
})

describe('a session through the real Qwen Code CLI', () => {
  test('two messages answered through the proxy with the real key; usage counted; stop ends the CLI and the token', async () => {
    const admin = await server.login()
    const asAdmin = browserApi(server.url, admin)
    const key = await asAdmin.remote['api-keys'].post({
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
    await waitUntil(machineOnline(server.url, admin, agent.machineId), {
      what: 'agent online',
      timeoutMs: 15_000,
    })
    const user = await createUser(server, admin, 'quinn')
    const assigned = await asAdmin.remote
      .machines({ id: agent.machineId })
      .assign.post({ user_id: user.id, permission: 'user' })
    expect(assigned.status).toBeLessThan(300)

    const project = join(agent.dir, 'work')
    const asUser = browserApi(server.url, user.cookie)
    const created = await asUser.remote.sessions.post({
      machine_id: agent.machineId,
      project_path: project,
      cli_tool: 'qwen-code',
      model: 'qwen3-coder-plus',
      title: 'e2e',
    })
    expect(created.status).toBe(201)
    const id = created.data!.session.session_id
    const session = asUser.remote.sessions({ id })
    await waitUntil(sessionActive(server.url, user.cookie, id), { what: 'session active', timeoutMs: 30_000 })

    const stream = await server.request(`/api/remote/sessions/${id}/stream`, { cookie: user.cookie })
    const answers = (events: { event: string; data: string }[]) =>
      events.filter((e) => e.event === 'output' && JSON.parse(e.data).event?.kind === 'result').length
    const streamed = readSse(stream, (events) => answers(events) >= 2, 90_000)

    const assistantTexts = async () =>
      ((await session.get()).data!.session.output ?? [])
        .flatMap((o) => (o.event?.kind === 'assistant_text' ? [o.event.text] : []))
        .join('\n')

    expect((await session.chat.post({ content: 'Say hello.' })).status).toBe(200)
    await waitUntil(async () => ((await assistantTexts()).includes(REPLIES[0]!) ? true : undefined), {
      what: 'first answer',
      timeoutMs: 60_000,
    })
    fake.setBehaviour({ reply: REPLIES[1], usage: USAGE })
    expect((await session.chat.post({ content: 'Again, please.' })).status).toBe(200)
    await waitUntil(async () => ((await assistantTexts()).includes(REPLIES[1]!) ? true : undefined), {
      what: 'second answer',
      timeoutMs: 60_000,
    })

    // The SSE stream saw the same records, in seq order, each once.
    const events = (await streamed).filter((e) => e.event === 'output')
    const seqs = events.map((e) => Number(e.id))
    expect(seqs).toEqual(seqs.map((_, i) => i))
    const text = events.map((e) => JSON.parse(e.data).event?.text ?? '').join('\n')
    expect(text.indexOf(REPLIES[0]!)).toBeGreaterThanOrEqual(0)
    expect(text.indexOf(REPLIES[1]!)).toBeGreaterThan(text.indexOf(REPLIES[0]!))

    // Every LLM call reached the fake with the real key, never the proxy token.
    const completions = fake.requests.filter((r) => r.path.endsWith('/chat/completions'))
    expect(completions.length).toBeGreaterThanOrEqual(2)
    for (const r of completions) expect(r.key).toBe(REAL_KEY)

    // Usage on the session equals what the fake reported, request by request.
    const expectedTokens = completions.length * (USAGE.input + USAGE.output)
    await waitUntil(
      async () => {
        const s = (await session.get()).data!.session
        return s.total_tokens === expectedTokens ? s : undefined
      },
      { what: 'usage recorded', timeoutMs: 15_000 },
    )
    const view = (await session.get()).data!.session
    expect(view.message_count).toBe(completions.length)

    // The CLI runs in the project with the proxy token as its key; stop ends it and the token.
    const pids = processesIn(project)
    expect(pids.length).toBeGreaterThan(0)
    const cliEnv = environOf(pids[0]!)
    const proxyToken = cliEnv.OPENAI_API_KEY!
    expect(proxyToken).not.toBe(REAL_KEY)
    expect(cliEnv.OPENAI_BASE_URL).toBe(`${server.url}/api/remote/llm-proxy/v1`)
    expect(JSON.stringify(cliEnv)).not.toContain(REAL_KEY)
    expect((await session.stop.post()).data?.status).toBe('stopped')
    await waitUntil(async () => (processesIn(project).length === 0 ? true : undefined), {
      what: 'CLI gone',
      timeoutMs: 15_000,
    })
    const late = await proxyChat(server, proxyToken, {
      model: 'm',
      messages: [{ role: 'user', content: 'hi' }],
    })
    expect(late.status).toBe(401)

    // The real key never reached the logs or the agent.
    expect(server.logs.join('\n')).not.toContain(REAL_KEY)
    expect(agent.log()).not.toContain(REAL_KEY)
  }, 240_000)
})
