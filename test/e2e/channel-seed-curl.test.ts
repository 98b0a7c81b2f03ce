// The seed's machine curl flow, verbatim, against a real server process (register token, the
// manual agent registration, list machines, assign, revoke, deregister); and the Deno entry,
// where the agent channel degrades to long-poll.
import { afterAll, describe, expect, test } from 'bun:test'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PROTOCOL_VERSION } from '../../protocol/index.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'

const running: ServerProcess[] = []
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL')
})

/** Runs a seed snippet with `<server>:5000` pointed at the test server; returns parsed JSON stdout. */
function seedCurl(server: ServerProcess, dir: string, snippet: string, vars: Record<string, string> = {}) {
  let script = snippet.replaceAll('<server>:5000', `127.0.0.1:${server.port}`)
  for (const [k, v] of Object.entries(vars)) script = script.replaceAll(k, v)
  const run = Bun.spawnSync(['bash', '-c', `curl() { command curl -s "$@"; }\n${script}`], {
    cwd: dir,
    env: { ...process.env, SERVER_URL: server.url },
  })
  const out = run.stdout.toString()
  try {
    return JSON.parse(out)
  } catch {
    throw new Error(`not JSON from:\n${script}\n---\n${out}\n${run.stderr.toString()}`)
  }
}

describe("the seed's curl flow", () => {
  test('register token, register the agent by hand, list machines, assign, revoke, deregister', async () => {
    const server = await spawnServer({})
    running.push(server)
    const dir = mkdtempSync(join(tmpdir(), 'oa-seed-'))
    seedCurl(
      server,
      dir,
      `curl -c cookies.txt -X POST http://<server>:5000/api/auth/login \\
-H "Content-Type: application/json" \\
-d '{"username":"admin","password":"admin123"}'`,
    )
    const { registration_token } = seedCurl(
      server,
      dir,
      `curl -b cookies.txt -X POST http://<server>:5000/api/remote/machines/register \\
-H "Content-Type: application/json" \\
-d '{"tenant_id": 1}'`,
    )
    expect(registration_token).toMatch(/^[0-9a-f]{64}$/)
    const registered = seedCurl(
      server,
      dir,
      `MACHINE_ID=$(python3 -c "import uuid; print(uuid.uuid4())")
curl -X POST "\${SERVER_URL}/api/remote/agent/register" \\
-H "Content-Type: application/json" \\
-d "{
\\"registration_token\\": \\"<token>\\",
\\"machine_id\\": \\"\${MACHINE_ID}\\",
\\"machine_name\\": \\"$(hostname)\\",
\\"hostname\\": \\"$(hostname)\\",
\\"os_type\\": \\"$(uname -s | tr '[:upper:]' '[:lower:]')\\",
\\"os_version\\": \\"$(uname -r)\\",
\\"capabilities\\": {},
\\"agent_version\\": \\"1.0.0\\"
}"`,
      { '<token>': registration_token },
    )
    expect(registered.agent_token).toMatch(/^[0-9a-f]{64}$/)
    const machineId: string = registered.machine_id

    const { machines } = seedCurl(server, dir, 'curl -b cookies.txt http://<server>:5000/api/remote/machines')
    expect(machines).toHaveLength(1)
    expect(Object.keys(machines[0])).toEqual(
      expect.arrayContaining([
        'machine_id',
        'machine_name',
        'hostname',
        'os_type',
        'os_version',
        'status',
        'connected',
        'capabilities',
        'agent_version',
      ]),
    )
    expect(machines[0]).toMatchObject({
      machine_id: machineId,
      status: 'offline',
      connected: false,
      agent_version: '1.0.0',
    })

    const user = await (
      await fetch(`${server.url}/api/users`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: await adminCookie(server) },
        body: JSON.stringify({ username: 'alice', password: 'alice-password' }),
      })
    ).json()
    const vars = { '<machine_id>': machineId, '<user_id>': String(user.user.id) }
    const assigned = seedCurl(
      server,
      dir,
      `curl -b cookies.txt -X POST \\
http://<server>:5000/api/remote/machines/<machine_id>/assign \\
-H "Content-Type: application/json" \\
-d '{"user_id": <user_id>, "permission": "user"}'`,
      vars,
    )
    expect(assigned).toMatchObject({ machine_id: machineId, user_id: user.user.id, permission: 'user' })
    expect(
      seedCurl(
        server,
        dir,
        'curl -b cookies.txt -X DELETE \\\nhttp://<server>:5000/api/remote/machines/<machine_id>/assign/<user_id>',
        vars,
      ),
    ).toMatchObject({ revoked: true })
    expect(
      seedCurl(
        server,
        dir,
        'curl -b cookies.txt -X DELETE \\\nhttp://<server>:5000/api/remote/machines/<machine_id>',
        vars,
      ),
    ).toMatchObject({ deleted: true })
  }, 60_000)
})

async function adminCookie(server: ServerProcess) {
  const res = await fetch(`${server.url}/api/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: 'admin123' }),
  })
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ')
}

describe('on Deno', () => {
  test('the agent channel works over long-poll and the WebSocket route answers 501', async () => {
    const server = await spawnServer({
      runtime: 'deno',
      env: await serverEnv({ AGENT_LONG_POLL_TIMEOUT_MS: '300' }),
    })
    running.push(server)
    const cookie = await adminCookie(server)
    const tokenRes = await fetch(`${server.url}/api/remote/machines/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ tenant_id: 1 }),
    })
    const { registration_token } = await tokenRes.json()
    const machineId = crypto.randomUUID()
    const reg = await fetch(`${server.url}/api/remote/agent/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        registration_token,
        machine_id: machineId,
        machine_name: 'deno-box',
        hostname: 'deno-box',
        os_type: 'linux',
        os_version: '6',
        capabilities: {},
        agent_version: '1.0.0',
      }),
    })
    const { agent_token } = await reg.json()
    const auth = { authorization: `Bearer ${agent_token}`, 'content-type': 'application/json' }
    const hello = {
      type: 'hello',
      machine_id: machineId,
      agent_version: '1.0.0',
      protocol_version: PROTOCOL_VERSION,
      system_info: {},
    }
    const poll = await fetch(`${server.url}/api/remote/agent/message`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ events: [hello] }),
    })
    expect(poll.status).toBe(200)
    expect((await poll.json()).replies[0]).toMatchObject({ type: 'welcome', machine_id: machineId })
    const waited = performance.now()
    const idle = await fetch(`${server.url}/api/remote/agent/message`, {
      method: 'POST',
      headers: auth,
      body: '{"events":[]}',
    })
    expect(await idle.json()).toEqual({ commands: [], replies: [] })
    expect(performance.now() - waited).toBeGreaterThanOrEqual(250)
    const ws = await fetch(`${server.url}/api/remote/agent/ws`, {
      headers: { ...auth, upgrade: 'websocket' },
    })
    expect(ws.status).toBe(501)
    const list = await (await fetch(`${server.url}/api/remote/machines`, { headers: { cookie } })).json()
    expect(list.machines[0]).toMatchObject({
      machine_id: machineId,
      status: 'online',
      transport: 'long_poll',
    })
  }, 60_000)
})
