// Access taken away is gone, black-box over HTTP with the compiled agent binary and a scripted
// CLI: unassign, disable and delete end the session (CLI killed, proxy token dead, chat refused),
// open streams close with the reason, logout closes them too. Each test here failed on the
// main before server/access existed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import type { Subprocess } from 'bun'
import { ensureAgentBinary, type RunningAgent } from '../support/agent-binary.ts'
import { standInCli, startCliMachine } from '../support/cli-session.ts'
import { browserApi, reply } from '../support/client.ts'
import { type FakeLlm, startFakeLlm } from '../support/fake-llm.ts'
import { proxyChat } from '../support/llm-proxy.ts'
import { createUser, startTestServer, type TestServer } from '../support/server.ts'
import { readSse } from '../support/sse.ts'
import { waitUntil } from '../support/wait-until.ts'

// Prints its proxy token, then keeps an `alive` file fresh (every 100 ms) while it runs, so the
// test sees from outside whether the CLI process still lives; echoes what it is sent.
const SCRIPT = `#!/usr/bin/env bash
echo "token $OPENAI_API_KEY"
while :; do
  date +%s%N > alive
  if IFS= read -r -t 0.1 line; then echo "echo: $line"
  elif [ $? -le 128 ]; then exit 0; fi
done
`

let server: TestServer
let fake: FakeLlm
let agent: RunningAgent
let admin: string
const processes: Subprocess[] = []
let n = 0

/** The typed client as the holder of `cookie` (the admin by default), with the browser's Origin. */
const as = (cookie = admin) => browserApi(server.url, cookie)
const machineAs = (cookie = admin) => as(cookie).remote.machines({ id: agent.machineId })

beforeAll(async () => {
  await ensureAgentBinary()
  const bin = standInCli('alive-cli', SCRIPT)
  fake = await startFakeLlm()
  server = await startTestServer({
    listen: true,
    env: { AGENT_HEARTBEAT_INTERVAL_SECONDS: '1', AGENT_OFFLINE_GRACE_MS: '500', LOG_LEVEL: 'info' },
  })
  admin = await server.login()
  agent = await startCliMachine({
    serverUrl: server.url,
    admin,
    track: processes,
    key: { provider: 'openai', apiKey: 'sk-real-key-for-access-tests', baseUrl: `${fake.url}/v1` },
    path: [bin],
    allowCliTools: ['alive-cli'],
  })
}, 180_000)

afterAll(async () => {
  for (const p of processes) if (p.exitCode === null) p.kill('SIGKILL')
  await server?.stop()
  await fake?.close()
})

interface Live {
  id: string
  token: string
  project: string
  cookie: string
  userId: number
}

/** A user assigned to the machine, with a running session whose CLI showed its proxy token. */
async function liveSession(): Promise<Live> {
  const user = await createUser(server, admin, `acc_${++n}`)
  const assigned = await machineAs().assign.post({ user_id: user.id, permission: 'user' })
  expect(assigned.status).toBe(200)
  const project = join(agent.dir, 'work', `p${n}`)
  mkdirSync(project, { recursive: true })
  const created = await as(user.cookie).remote.sessions.post({
    machine_id: agent.machineId,
    project_path: project,
    cli_tool: 'alive-cli',
  })
  expect(created.status).toBe(201)
  const id = created.data!.session.session_id
  const token = await waitUntil(
    async () => {
      const { data } = await as(user.cookie).remote.sessions({ id }).get()
      const line = data?.session.output.find((o) => o.data.startsWith('token '))
      return line ? line.data.slice(6).trim() : undefined
    },
    { what: 'the CLI printed its token', timeoutMs: 15_000 },
  )
  await waitUntil(async () => (cliAlive(project) ? true : undefined), {
    what: 'the CLI is alive',
    timeoutMs: 15_000,
  })
  return { id, token, project, cookie: user.cookie, userId: user.id }
}

/** The CLI refreshed its alive file within the last half second. */
function cliAlive(project: string): boolean {
  const file = join(project, 'alive')
  return existsSync(file) && Date.now() - statSync(file).mtimeMs < 500
}

const proxyCall = (token: string) =>
  proxyChat(server, token, { model: 'fake-model', messages: [{ role: 'user', content: 'hi' }] })

/** After a revocation settles (≤ 1 s): CLI gone, proxy token dead, chat refused, status stopped. */
async function expectEnded(live: Live, viewer = admin) {
  await Bun.sleep(1000)
  expect((await proxyCall(live.token)).status).toBe(401)
  const chat = await as(live.cookie).remote.sessions({ id: live.id }).chat.post({ content: 'still there?' })
  expect(chat.status).toBeGreaterThanOrEqual(400)
  const { data } = await as(viewer).remote.sessions({ id: live.id }).get()
  expect(data?.session.status).toBe('stopped')
  await waitUntil(async () => (cliAlive(live.project) ? undefined : true), {
    what: 'the CLI was killed',
    timeoutMs: 10_000,
  })
}

describe('revocation reaches live sessions, tokens and streams', () => {
  test('unassigning a user stops their session: CLI killed, proxy token dead, chat refused', async () => {
    const live = await liveSession()
    expect((await proxyCall(live.token)).status).toBe(200)
    const res = await machineAs().assign({ user_id: live.userId }).delete()
    expect(res.status).toBe(200)
    await expectEnded(live)
  })

  test('disabling a user stops their session and its proxy token', async () => {
    const live = await liveSession()
    expect((await as().users({ id: live.userId }).patch({ status: 'disabled' })).status).toBe(200)
    await expectEnded(live)
  })

  test('deleting a user kills the CLI on the machine and frees the slot', async () => {
    const live = await liveSession()
    expect((await as().users({ id: live.userId }).delete()).status).toBe(200)
    await Bun.sleep(1000)
    expect((await proxyCall(live.token)).status).toBe(401)
    await waitUntil(async () => (cliAlive(live.project) ? undefined : true), {
      what: 'the CLI was killed',
      timeoutMs: 10_000,
    })
  })

  test('an open stream closes with access.revoked when its viewer is unassigned', async () => {
    const live = await liveSession()
    // A plain fetch: readSse reads the raw event stream from the Response.
    const res = await fetch(`${server.url}/api/remote/sessions/${live.id}/stream`, {
      headers: { cookie: live.cookie },
    })
    expect(res.status).toBe(200)
    const reading = readSse(res, (events) => events.some((e) => e.event === 'access.revoked'), 10_000)
    await Bun.sleep(300)
    await machineAs().assign({ user_id: live.userId }).delete()
    const events = await reading
    const last = events.at(-1)!
    expect(last.event).toBe('access.revoked')
    expect(JSON.parse(last.data)).toEqual({ type: 'access.revoked', reason: 'unassigned' })
  })

  test('logging out closes the streams of that login', async () => {
    const live = await liveSession()
    // A plain fetch: readSse reads the raw event stream from the Response.
    const res = await fetch(`${server.url}/api/remote/sessions/${live.id}/stream`, {
      headers: { cookie: live.cookie },
    })
    expect(res.status).toBe(200)
    const reading = readSse(res, (events) => events.some((e) => e.event === 'access.revoked'), 10_000)
    await Bun.sleep(300)
    expect((await as(live.cookie).auth.logout.post()).status).toBe(200)
    const events = await reading
    expect(events.at(-1)?.event).toBe('access.revoked')
    expect(JSON.parse(events.at(-1)!.data).reason).toBe('logout')
  })

  test('a machine admin asking to grant admin gets 403; changing an ended session is 409', async () => {
    const live = await liveSession()
    const madmin = await createUser(server, admin, `acc_madmin_${++n}`)
    await machineAs().assign.post({ user_id: madmin.id, permission: 'admin' })
    // reply(): the refusal's error body, whose shape the App type does not name.
    const grant = await reply(
      machineAs(madmin.cookie).assign.post({ user_id: live.userId, permission: 'admin' }),
    )
    expect(grant.status).toBe(403)
    expect(grant.body.error?.message).toBeString()
    const session = as(live.cookie).remote.sessions({ id: live.id })
    expect((await session.stop.post()).status).toBe(200)
    const patch = await session.patch({ title: 'renamed after the end' })
    expect(patch.status).toBe(409)
    const { data } = await session.get()
    expect(data?.session.title).not.toBe('renamed after the end')
  })
})
