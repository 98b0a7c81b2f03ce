// A session driven through the compiled agent with a scripted stand-in CLI (the generic
// adapter): pause/resume/abort reach the process, and an agent killed mid-stream and started
// again leaves the stored output without a gap or a repeat, and takes the session up again.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import {
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  runAgentBinary,
  sessionActive,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi } from '../support/client.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

const SCRIPT = `#!/usr/bin/env bash
# "count N" prints N numbered lines 20 ms apart; an interrupt (SIGINT) cuts the count short.
stop=0
trap 'stop=1; echo interrupted' INT
while IFS= read -r line; do
  case "$line" in
    count\\ *)
      n=\${line#count }; i=0; stop=0
      while [ $i -lt "$n" ] && [ $stop -eq 0 ]; do echo "tick $i"; i=$((i+1)); sleep 0.02; done
      [ $stop -eq 0 ] && echo "done $n" ;;
    *) echo "echo: $line" ;;
  esac
done
`

let server: TestServer
let agent: RunningAgent
let cookie: string
const processes: Subprocess[] = []

beforeAll(async () => {
  await ensureAgentBinary()
  const bin = mkdtempSync(join(tmpdir(), 'oa-scripted-cli-'))
  writeFileSync(join(bin, 'scripted-cli'), SCRIPT)
  chmodSync(join(bin, 'scripted-cli'), 0o755)
  server = await startTestServer({
    listen: true,
    env: { AGENT_HEARTBEAT_INTERVAL_SECONDS: '1', AGENT_OFFLINE_GRACE_MS: '500' },
  })
  const admin = await server.login()
  agent = await startAgentBinary({
    serverUrl: server.url,
    cookie: admin,
    track: processes,
    allowCliTools: ['scripted-cli'],
    env: {
      PATH: `${bin}:${process.env.PATH}`,
      OPENACE_RECONNECT_BASE_DELAY: '0.2',
      OPENACE_RECONNECT_MAX_DELAY: '1',
    },
  })
  await waitUntil(machineOnline(server.url, admin, agent.machineId), {
    what: 'agent online',
    timeoutMs: 15_000,
  })
  const user = await createUser(server, admin, 'scripty')
  await browserApi(server.url, admin)
    .remote.machines({ id: agent.machineId })
    .assign.post({ user_id: user.id, permission: 'user' })
  cookie = user.cookie
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
})

/** The typed client as the session's user (the cookie is set once the server is up). */
const asUser = () => browserApi(server.url, cookie)

async function session(): Promise<string> {
  const created = await asUser().remote.sessions.post({
    machine_id: agent.machineId,
    project_path: join(agent.dir, 'work'),
    cli_tool: 'scripted-cli',
  })
  expect(created.status).toBe(201)
  const id = created.data!.session.session_id
  await waitUntil(async () => ((await view(id)).status === 'active' ? true : undefined), {
    what: 'active',
    timeoutMs: 15_000,
  })
  return id
}

async function view(id: string) {
  return (
    await asUser()
      .remote.sessions({ id })
      .get({ query: { output_limit: 5000 } })
  ).data!.session
}
const lines = async (id: string) => ((await view(id)).output ?? []).map((o) => o.data)
const until = (id: string, what: string, test: (l: string[]) => boolean, ms = 20_000) =>
  waitUntil(async () => (test(await lines(id)) ? true : undefined), { what, timeoutMs: ms })
const chat = (id: string, content: string) => asUser().remote.sessions({ id }).chat.post({ content })
const act = async (id: string, action: 'pause' | 'resume' | 'abort' | 'stop') =>
  (await asUser().remote.sessions({ id })[action].post()).data?.status
const ticks = (l: string[]) => l.filter((x) => x.startsWith('tick ')).map((x) => Number(x.slice(5)))

describe('scripted CLI through the agent binary', () => {
  test('pause stops the output, resume continues it, abort interrupts the turn and keeps the session', async () => {
    const id = await session()
    await chat(id, 'count 150')
    await until(id, 'tick 20', (l) => l.includes('tick 20'))
    expect(await act(id, 'pause')).toBe('paused')
    await Bun.sleep(400)
    const paused = (await lines(id)).length
    await Bun.sleep(800)
    expect((await lines(id)).length).toBe(paused)
    expect((await lines(id)).includes('done 150')).toBe(false)
    expect(await act(id, 'resume')).toBe('active')
    await until(id, 'done 150', (l) => l.includes('done 150'))
    expect(ticks(await lines(id))).toEqual(Array.from({ length: 150 }, (_, i) => i))

    await chat(id, 'count 1000')
    await until(id, 'tick 10 of the long count', (l) => l.filter((x) => x === 'tick 10').length === 2)
    expect(await act(id, 'abort')).toBe('active')
    await until(id, 'interrupted', (l) => l.includes('interrupted'))
    expect((await lines(id)).includes('done 1000')).toBe(false)
    await chat(id, 'still here?')
    await until(id, 'echo', (l) => l.includes('echo: still here?'))
    expect(await act(id, 'stop')).toBe('stopped')
  }, 90_000)

  test('agent killed mid-stream and restarted: stored output has no gap and no repeat', async () => {
    const id = await session()
    await chat(id, 'count 400')
    await until(id, 'tick 60', (l) => l.includes('tick 60'))
    agent.proc.kill('SIGKILL')
    await agent.proc.exited
    await Bun.sleep(300)
    agent = runAgentBinary(agent.dir, agent.machineId, agent.env, processes)
    const admin = await server.login()
    await waitUntil(machineOnline(server.url, admin, agent.machineId), {
      what: 'agent back online',
      timeoutMs: 20_000,
    })
    // The machine may still look online through the killed agent's socket until the server sees
    // it close; the restarted agent connects only after its CLI look-up (a slow `--version` takes
    // seconds). Wait for its own connection, then for the session it took up.
    const connected = async () => (agent.log().includes('connected transport=') ? true : undefined)
    await waitUntil(connected, { what: 'restarted agent connected', timeoutMs: 20_000 })
    await waitUntil(sessionActive(server.url, admin, id), { what: 'session active again', timeoutMs: 20_000 })
    await Bun.sleep(1000) // the spooled, unconfirmed output is re-sent after the reconnect
    const output = (await view(id)).output ?? []
    const seqs = output.map((o) => o.seq)
    expect(seqs).toEqual(seqs.map((_, i) => i))
    const got = ticks(output.map((o) => o.data))
    expect(got.length).toBeGreaterThan(60)
    expect(got).toEqual(Array.from({ length: got.length }, (_, i) => i))

    // The restarted agent took the session up: the next message starts the CLI again and the
    // output numbering goes on without a gap.
    expect((await view(id)).status).toBe('active')
    await chat(id, 'back again')
    await until(id, 'echo after restart', (l) => l.includes('echo: back again'))
    const after = ((await view(id)).output ?? []).map((o) => o.seq)
    expect(after).toEqual(after.map((_, i) => i))
  }, 90_000)
})
