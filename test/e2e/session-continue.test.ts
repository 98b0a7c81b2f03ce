// Continuing a stopped session with the compiled agent: a new CLI process resumes the
// conversation the first one named, its output follows the old output, and the changes panel
// still diffs against the session's first start. Once with a scripted stand-in for `qwen` that
// keeps its conversations in its (per-user, sandboxed) home and says which one it resumed, and
// once with the real Qwen Code CLI against the fake OpenAI upstream.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  cliWithVersion,
  ensureAgentBinary,
  machineOnline,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { REPO_ROOT } from '../support/process.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

// Speaks just enough stream-json: each user message is kept in $HOME/.scripted-qwen/<id>; the
// answer names the conversation it resumed (--resume) and every message it has heard in it.
const SCRIPTED_QWEN = `#!/usr/bin/env bash
if [ "$1" = "--version" ]; then echo "0.24.4"; exit 0; fi
resume=""
while [ $# -gt 0 ]; do
  if [ "$1" = "--resume" ]; then resume="$2"; shift; fi
  shift
done
id="\${resume:-conv-$$-$RANDOM}"
mkdir -p "$HOME/.scripted-qwen"
log="$HOME/.scripted-qwen/$id"
while IFS= read -r line; do
  case "$line" in
    *'"type":"user"'*)
      text=$(printf '%s' "$line" | sed -E 's/.*"content":"([^"]*)".*/\\1/')
      printf '%s\\n' "$text" >> "$log"
      heard=$(paste -sd '|' "$log")
      printf '{"type":"assistant","session_id":"%s","message":{"role":"assistant","content":[{"type":"text","text":"resumed=%s heard=%s"}]}}\\n' "$id" "\${resume:-none}" "$heard"
      printf '{"type":"result","subtype":"success","session_id":"%s","is_error":false,"result":"ok","duration_ms":1}\\n' "$id"
      ;;
  esac
done
`

const REAL_KEY = 'sk-real-provider-key-continue-0123456789'

let server: TestServer
let admin: string
const processes: Subprocess[] = []
let fake: FakeLlm

beforeAll(async () => {
  await ensureAgentBinary()
  fake = await startFakeLlm({ reply: 'First answer from the fake model.', usage: { input: 11, output: 5 } })
  server = await startTestServer({ listen: true, env: { LOG_LEVEL: 'info' } })
  admin = await server.login()
  await as(admin).remote['api-keys'].post({
    provider: 'openai',
    key_name: 'fake-upstream',
    api_key: REAL_KEY,
    base_url: `${fake.url}/v1`,
  })
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
  await fake?.close()
})

async function machineWith(path: string, userName: string) {
  const agent = await startAgentBinary({
    serverUrl: server.url,
    cookie: admin,
    track: processes,
    env: { PATH: path },
  })
  await waitUntil(machineOnline(server.url, admin, agent.machineId), {
    what: 'agent online',
    timeoutMs: 15_000,
  })
  await waitUntil(cliWithVersion(server.url, admin, agent.machineId, 'qwen-code'), {
    what: 'qwen detected',
    timeoutMs: 30_000,
  })
  const user = await createUser(server, admin, userName)
  await as(admin)
    .remote.machines({ id: agent.machineId })
    .assign.post({ user_id: user.id, permission: 'user' })
  return { agent, cookie: user.cookie }
}

/** The typed client as the holder of `cookie`. */
const as = (cookie: string) => browserApi(server.url, cookie)

function sessionApi(cookie: string, id: string) {
  const session = as(cookie).remote.sessions({ id })
  const view = async () => (await session.get({ query: { output_limit: 5000 } })).data!.session
  const texts = async () =>
    ((await view()).output ?? []).flatMap((o) => (o.event?.kind === 'assistant_text' ? [o.event.text] : []))
  const status = (want: string, ms = 30_000) =>
    waitUntil(async () => ((await view()).status === want ? true : undefined), {
      what: `session ${want}`,
      timeoutMs: ms,
    })
  const chat = async (content: string) => expect((await session.chat.post({ content })).status).toBe(200)
  const stop = async () => (await session.stop.post()).data?.status
  const resume = () => session.continue.post()
  return { view, texts, status, chat, stop, resume }
}

describe('continuing a stopped session through the agent binary', () => {
  test('a scripted qwen: --resume of its conversation, output after the old, changes against the first start', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'oa-resuming-cli-'))
    writeFileSync(join(bin, 'qwen'), SCRIPTED_QWEN)
    chmodSync(join(bin, 'qwen'), 0o755)
    const { agent, cookie } = await machineWith(`${bin}:${process.env.PATH}`, 'rosa')
    const project = join(agent.dir, 'work')
    const created = await as(cookie).remote.sessions.post({
      machine_id: agent.machineId,
      project_path: project,
      cli_tool: 'qwen-code',
    })
    expect(created.status).toBe(201)
    const id = created.data!.session.session_id
    const s = sessionApi(cookie, id)
    await s.status('active')
    await s.chat('alpha')
    const first = await waitUntil(async () => (await s.texts()).find((t) => t.includes('heard=alpha')), {
      what: 'first answer',
      timeoutMs: 15_000,
    })
    expect(first).toStartWith('resumed=none ')
    // A change made before the stop, against the snapshot of the first start.
    writeFileSync(join(project, 'notes.txt'), 'written in the first run\n')
    const changedPaths = async () =>
      (await as(cookie).remote.sessions({ id }).changes.get()).data?.files?.map((f) => f.path) ?? []
    await waitUntil(async () => ((await changedPaths()).includes('notes.txt') ? true : undefined), {
      what: 'the change listed',
      timeoutMs: 15_000,
    })
    const before = await s.view()

    expect(await s.stop()).toBe('stopped')
    await waitUntil(async () => ((await s.view()).status === 'stopped' ? true : undefined), {
      what: 'conversation kept',
      timeoutMs: 15_000,
    })
    const continued = await s.resume()
    expect(continued.status).toBe(200)
    await s.status('active')
    await s.chat('beta')
    const second = await waitUntil(async () => (await s.texts()).find((t) => t.includes('beta')), {
      what: 'answer after continuing',
      timeoutMs: 15_000,
    })
    // The new process resumed the first one's conversation and heard both messages in it.
    expect(second).toMatch(/^resumed=conv-\S+ heard=alpha\|beta$/)
    const after = await s.view()
    const seqs = (after.output ?? []).map((o) => o.seq!)
    expect(seqs).toEqual(seqs.map((_, i) => i))
    expect(seqs.length).toBeGreaterThan((before.output ?? []).length)
    // Still diffed against the project as it was when the session first started.
    expect(await changedPaths()).toContain('notes.txt')
    await s.stop()
  }, 180_000)

  test('the real Qwen Code CLI resumes its conversation with --resume against the fake upstream', async () => {
    const { agent, cookie } = await machineWith(
      `${join(REPO_ROOT, 'node_modules/.bin')}:${process.env.PATH}`,
      'rufus',
    )
    const created = await as(cookie).remote.sessions.post({
      machine_id: agent.machineId,
      project_path: join(agent.dir, 'work'),
      cli_tool: 'qwen-code',
      model: 'qwen3-coder-plus',
    })
    expect(created.status).toBe(201)
    const id = created.data!.session.session_id
    const s = sessionApi(cookie, id)
    await s.status('active')
    await s.chat('The secret word is PLUMTREE.')
    await waitUntil(
      async () => ((await s.texts()).some((t) => t.includes('First answer')) ? true : undefined),
      { what: 'first answer', timeoutMs: 90_000 },
    )
    await waitUntil(
      async () => {
        const rows = (await s.view()).output ?? []
        return rows.some((o) => o.event?.kind === 'result') ? true : undefined
      },
      { what: 'the CLI named its conversation', timeoutMs: 15_000 },
    )
    expect(await s.stop()).toBe('stopped')
    const sent = fake.requests.length
    fake.setBehaviour({ reply: 'Second answer after continuing.', usage: { input: 13, output: 6 } })
    const continued = await s.resume()
    expect(continued.status).toBe(200)
    await s.status('active', 60_000)
    await s.chat('What was the secret word?')
    await waitUntil(
      async () => ((await s.texts()).some((t) => t.includes('Second answer')) ? true : undefined),
      { what: 'second answer', timeoutMs: 90_000 },
    )
    // The resumed process sent the first turn along: the conversation went on, not afresh.
    const later = fake.requests.slice(sent).filter((r) => r.path.endsWith('/chat/completions'))
    expect(later.length).toBeGreaterThan(0)
    expect(
      later.some((r) => r.body.includes('PLUMTREE') && r.body.includes('What was the secret word?')),
    ).toBe(true)
    const seqs = ((await s.view()).output ?? []).map((o) => o.seq!)
    expect(seqs).toEqual(seqs.map((_, i) => i))
    await s.stop()
  }, 300_000)
})
