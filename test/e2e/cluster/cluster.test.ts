// Two server processes on one Postgres database behind a switchable address (the "load
// balancer"): the compiled agent dials A through it, the browser (HTTP API + SSE) talks to B.
// The sessions flow works across them; A is killed mid-output and the address switched to B:
// the agent reconnects within its backoff bound, keeps its session, nothing is lost or doubled.
// On the embedded database only one process can own the data, so there "B" is A restarted on
// the same data, and the browser's stream resumes with Last-Event-ID; the test name says so.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  adminCookie,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
} from '../../support/agent-binary.ts'
import { browserApi } from '../../support/client.ts'
import { TEST_DATABASE_URL } from '../../support/database.ts'
import { type FakeLlm, startFakeLlm } from '../../support/fake-llm.ts'
import { freePort, type ServerProcess, serverEnv, spawnServer } from '../../support/process.ts'
import { waitUntil } from '../../support/wait-until.ts'
import { type Forwarder, startForwarder } from './forwarder.ts'
import { followSse, type SseFollower } from './sse-follower.ts'

const SHARED_DATABASE = TEST_DATABASE_URL !== undefined
/** Agent reconnect settings (seconds); a reconnect after the switch must meet MAX_DELAY. */
const BASE_DELAY = 0.1
const MAX_DELAY = 1
/** One handshake and one presence write on top of the longest backoff sleep. */
const RECONNECT_SLACK_MS = 1500
const SERVER_SETTINGS = {
  AGENT_HEARTBEAT_INTERVAL_SECONDS: '1',
  AGENT_LONG_POLL_TIMEOUT_MS: '2000',
  AGENT_OFFLINE_GRACE_MS: '500',
  OPENACE_ENCRYPTION_KEY: 'a1'.repeat(32),
}
const REAL_KEY = 'sk-cluster-upstream-key-0123456789'
const USAGE = { input: 11, output: 5 }
const COUNT = 150

// A stand-in CLI for the generic adapter. "count N": N numbered lines 10 ms apart, then "done N".
// "ask X": one chat completion through our proxy (OPENAI_* from the adapter), prints the answer.
const SCRIPT = `#!/usr/bin/env bash
while IFS= read -r line; do
  case "$line" in
    count\\ *)
      n=\${line#count }; i=0
      while [ $i -lt "$n" ]; do echo "tick $i"; i=$((i+1)); sleep 0.01; done
      echo "done $n" ;;
    ask\\ *)
      body='{"model":"fake-model","messages":[{"role":"user","content":"'"\${line#ask }"'"}]}'
      reply=$(curl -s -H "Authorization: Bearer $OPENAI_API_KEY" -H 'content-type: application/json' \\
        -d "$body" "$OPENAI_BASE_URL/chat/completions" | jq -r '.choices[0].message.content // .error.message')
      echo "answer: $reply" ;;
    *) echo "echo: $line" ;;
  esac
done
`

const processes: Subprocess[] = []
const servers: ServerProcess[] = []
let forwarder: Forwarder | undefined
let fake: FakeLlm | undefined
let follower: SseFollower | undefined
let cliDir: string

beforeAll(async () => {
  await ensureAgentBinary()
  cliDir = mkdtempSync(join(tmpdir(), 'oa-cluster-cli-'))
  writeFileSync(join(cliDir, 'scripted-cli'), SCRIPT)
  chmodSync(join(cliDir, 'scripted-cli'), 0o755)
}, 180_000)

afterAll(async () => {
  follower?.stop()
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  for (const s of servers) await s.stop('SIGKILL')
  forwarder?.stop()
  await fake?.close()
})

async function spawn(env: Record<string, string>, port: number) {
  const server = await spawnServer({ env, port })
  servers.push(server)
  return server
}

const title = SHARED_DATABASE
  ? 'two instances on one Postgres database: agent on A via the shared address, browser on B; A killed, the agent moves to B and the session goes on'
  : 'sessions flow across a failover (one instance: the embedded database belongs to one process): the instance is killed and restarted behind the shared address, the agent follows and the session goes on'

describe('several instances behind one address', () => {
  test(title, async () => {
    fake = await startFakeLlm({ reply: 'first answer', usage: USAGE })
    const portA = await freePort()
    forwarder = startForwarder(portA)
    // Same secrets, one database, PUBLIC_URL = the shared address; only the port differs.
    const env = await serverEnv({ ...SERVER_SETTINGS, PUBLIC_URL: forwarder.url })
    const envB = { ...env, DATA_DIR: mkdtempSync(join(tmpdir(), 'oa-cluster-b-')) }
    const portB = await freePort()
    // Both start at once on Postgres, as a deployment would: their first-run setup must not collide.
    const [a, startedB] = await Promise.all([
      spawn(env, portA),
      SHARED_DATABASE ? spawn(envB, portB) : Promise.resolve(undefined),
    ])
    let browser = startedB ?? a

    // Logged in on A, the cookie works on B: no sticky sessions needed.
    const cookie = await adminCookie(a.url)
    // The browser loaded the UI from the shared address, so that is its Origin on every instance.
    const api = () => browserApi(browser.url, cookie, forwarder!.url)
    const key = await api().remote['api-keys'].post({
      provider: 'openai',
      key_name: 'fake-upstream',
      api_key: REAL_KEY,
      base_url: `${fake.url}/v1`,
    })
    expect(key.status).toBe(201)

    // Registered through the shared address (the admin's browser goes through it too).
    const agent: RunningAgent = await startAgentBinary({
      serverUrl: forwarder.url,
      cookie,
      track: processes,
      allowCliTools: ['scripted-cli'],
      env: {
        PATH: `${cliDir}:${process.env.PATH}`,
        OPENACE_RECONNECT_BASE_DELAY: String(BASE_DELAY),
        OPENACE_RECONNECT_MAX_DELAY: String(MAX_DELAY),
      },
    })
    const online = await waitUntil(machineOnline(browser.url, cookie, agent.machineId), {
      what: 'agent online (seen from B)',
      timeoutMs: 15_000,
    })
    expect(online.transport).toBe('websocket')
    // A request made on B of the agent (a directory listing) is answered over A's socket.
    const workDir = join(agent.dir, 'work')
    const browse = async () =>
      JSON.stringify(
        (
          await api()
            .remote.machines({ id: agent.machineId })
            .browse.get({ query: { path: workDir } })
        ).data,
      )
    expect(await browse()).toContain('marker.txt')

    const created = await api().remote.sessions.post({
      machine_id: agent.machineId,
      project_path: workDir,
      cli_tool: 'scripted-cli',
    })
    expect(created.status).toBe(201)
    const id = created.data!.session.session_id
    const view = async () => {
      const res = await api()
        .remote.sessions({ id })
        .get({ query: { output_limit: 5000 } })
      if (!res.data) throw new Error(`session ${id}: ${res.status}`)
      return res.data.session
    }
    const lines = async () => ((await view()).output ?? []).map((o) => o.data)
    const until = (what: string, test: (l: string[]) => boolean, ms = 20_000) =>
      waitUntil(async () => (test(await lines()) ? true : undefined), { what, timeoutMs: ms })
    const chat = async (content: string) =>
      expect((await api().remote.sessions({ id }).chat.post({ content })).status).toBe(200)
    await waitUntil(async () => ((await view()).status === 'active' ? true : undefined), {
      what: 'session active',
      timeoutMs: 15_000,
    })

    follower = followSse(() => `${browser.url}/api/remote/sessions/${id}/stream`, cookie)

    // An LLM call through the shared address lands on A, with the key B stored (same key on both).
    await chat('ask before')
    await until('first answer', (l) => l.includes('answer: first answer'))

    await chat(`count ${COUNT}`)
    await until('tick 40', (l) => l.includes('tick 40'))
    expect(await lines()).not.toContain(`done ${COUNT}`) // A dies mid-output
    expect(await a.stop('SIGKILL')).not.toBe(0)
    if (!SHARED_DATABASE) browser = await spawn(env, portB)
    forwarder.switchTo(portB)
    const switchedAt = Date.now()
    const again = await waitUntil(machineOnline(browser.url, cookie, agent.machineId), {
      what: 'agent online again',
      timeoutMs: 20_000,
    })
    expect(again.transport).toBe('websocket')
    expect(Date.now() - switchedAt).toBeLessThan(MAX_DELAY * 1000 + RECONNECT_SLACK_MS)

    expect(await browse()).toContain('marker.txt')

    // The agent kept its session: the count finishes and a new message reaches the same CLI.
    await until(`done ${COUNT}`, (l) => l.includes(`done ${COUNT}`))
    fake.setBehaviour({ reply: 'second answer', usage: USAGE })
    await chat('ask after')
    await until('second answer', (l) => l.includes('answer: second answer'))

    const output = (await view()).output ?? []
    const seqs = output.map((o) => o.seq)
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i))
    const ticks = output.filter((o) => o.data.startsWith('tick ')).map((o) => o.data)
    expect(ticks).toEqual(Array.from({ length: COUNT }, (_, i) => `tick ${i}`))

    // The browser saw exactly the stored records, in order, each once. On Postgres its one
    // stream on B never broke; on the embedded database it resumed with Last-Event-ID.
    const streamed = await follower.waitForOutput(seqs.length)
    expect(streamed.map((e) => Number(e.id))).toEqual(seqs)
    expect(streamed.map((e) => JSON.parse(e.data).data)).toEqual(output.map((o) => o.data))
    expect(follower.connections()).toBe(SHARED_DATABASE ? 1 : 2)

    // Both LLM calls reached the upstream with the real key; usage counted on both instances.
    const calls = fake.requests.filter((r) => r.path.endsWith('/chat/completions'))
    expect(calls.map((r) => r.key)).toEqual([REAL_KEY, REAL_KEY])
    await waitUntil(
      async () => ((await view()).total_tokens === 2 * (USAGE.input + USAGE.output) ? true : undefined),
      { what: 'usage of both calls', timeoutMs: 15_000 },
    )

    const stopped = await api().remote.sessions({ id }).stop.post()
    expect(stopped.data?.status).toBe('stopped')
    await follower.waitForStatus('stopped')
  }, 60_000)
})
