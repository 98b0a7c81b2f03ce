// A machine's session policy over HTTP: the allowlist of CLI tools (default: what the agent
// found; a system admin may set it), the required isolation level, and session creation refused
// with a reason naming what is allowed.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'

let server: TestServer
let admin: string
let user: { id: number; cookie: string }
let client: ReturnType<typeof testClient>
const agents: FakeAgent[] = []

const machineView = (id: string, cookie: string) =>
  reply(client.api.remote.machines({ id }).get(withCookie(cookie)))
const settings = (
  id: string,
  cookie: string,
  body: Parameters<ReturnType<typeof client.api.remote.machines>['settings']['patch']>[0],
) => reply(client.api.remote.machines({ id }).settings.patch(body, withCookie(cookie)))

/** A machine whose agent says hello with `capabilities`, with `user` assigned. */
async function machine(name: string, capabilities: Record<string, unknown>) {
  const reg = await registerMachine(server.request, admin, { name })
  await reply(
    client.api.remote.machines({ id: reg.machineId }).assign.post({ user_id: user.id }, withCookie(admin)),
  )
  await FakeAgent.connectTo(server.url, reg, { capabilities, track: agents })
  await waitUntil(
    async () => {
      const { body } = await machineView(reg.machineId, admin)
      const said = Bun.deepEquals(body.machine.capabilities, JSON.parse(JSON.stringify(capabilities)))
      return body.machine.status === 'online' && said
    },
    { what: 'machine online with its capabilities' },
  )
  return reg.machineId
}

const create = (machineId: string, cliTool?: string) =>
  reply(
    client.api.remote.sessions.post(
      { machine_id: machineId, project_path: '/work/p', ...(cliTool ? { cli_tool: cliTool } : {}) },
      withCookie(user.cookie),
    ),
  )

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
  user = await createUser(server, admin, 'polly')
  client = testClient(server.app, server.url)
})
afterAll(async () => {
  for (const a of agents) await a.close()
  await server.stop()
})

describe('machine CLI allowlist and isolation requirement', () => {
  test('the machine view shows its isolation, the detected CLIs and what sessions may use', async () => {
    const id = await machine('sandboxed', FAKE_CAPABILITIES)
    const { body } = await machineView(id, user.cookie)
    expect(body.machine.isolation).toEqual({ level: 'sandbox', mechanism: 'bubblewrap' })
    expect(body.machine.cli_tools).toEqual(FAKE_CAPABILITIES.cli_tools)
    expect(body.machine.allowed_cli_tools).toEqual(['qwen-code', 'claude-code'])
    expect(body.machine.allowed_cli_tools_custom).toBe(false)
    expect(body.machine.required_isolation).toBe('none')
  })

  test('any other executable is refused by default with a message naming the allowed tools', async () => {
    const id = await machine('default-list', FAKE_CAPABILITIES)
    const bash = await create(id, 'bash')
    expect(bash.status).toBe(400)
    expect(bash.body.error.field).toBe('cli_tool')
    expect(bash.body.error.message).toBe(
      "CLI tool 'bash' is not allowed on machine 'default-list' (allowed: qwen-code, claude-code)",
    )
    const sessions = await reply(client.api.remote.machines({ id }).sessions.get(withCookie(admin)))
    expect(sessions.body.sessions).toHaveLength(0)
    expect((await create(id)).status).toBe(201)
    expect((await create(id, 'qwen')).status).toBe(201)
    expect((await create(id, 'claude-code')).status).toBe(201)
  })

  test('a system admin sets the list; only system admins may; null goes back to the default', async () => {
    const id = await machine('custom-list', FAKE_CAPABILITIES)
    const denied = await settings(id, user.cookie, { allowed_cli_tools: ['bash'] })
    expect(denied.status).toBe(403)
    const set = await settings(id, admin, { allowed_cli_tools: ['aider', 'qwen-code'] })
    expect(set.status).toBe(200)
    expect(set.body.machine.allowed_cli_tools).toEqual(['aider', 'qwen-code'])
    expect(set.body.machine.allowed_cli_tools_custom).toBe(true)
    expect((await create(id, 'aider')).status).toBe(201)
    expect((await create(id, 'claude-code')).body.error.message).toContain('allowed: aider, qwen-code')
    const bad = await settings(id, admin, { allowed_cli_tools: ['rm -rf /'] })
    expect(bad.status).toBe(400)
    const reset = await settings(id, admin, { allowed_cli_tools: null })
    expect(reset.body.machine.allowed_cli_tools).toEqual(['qwen-code', 'claude-code'])
    const audit = await reply(
      client.api.audit.get({ query: { event: 'machine.settings' }, ...withCookie(admin) }),
    )
    expect(JSON.stringify(audit.body)).toContain('machine.settings')
  })

  test('below the required isolation level a session is refused, saying why', async () => {
    const id = await machine('open-box', {
      ...FAKE_CAPABILITIES,
      isolation: { level: 'none', mechanism: '', detail: 'bubblewrap (bwrap) is not installed' },
    })
    const { body } = await machineView(id, admin)
    expect(body.machine.isolation.level).toBe('none')
    expect((await create(id)).status).toBe(201)
    const required = await settings(id, admin, { required_isolation: 'sandbox' })
    expect(required.body.machine.required_isolation).toBe('sandbox')
    const refused = await create(id)
    expect(refused.status).toBe(409)
    expect(refused.body.error.message).toContain(
      "Machine 'open-box' isolates sessions at level 'none' (bubblewrap (bwrap) is not installed), below the required 'sandbox'",
    )
    // An unknown level goes raw: Eden's types refuse it.
    const bad = await server.request(`/api/remote/machines/${id}/settings`, {
      method: 'PATCH',
      cookie: admin,
      json: { required_isolation: 'max' },
    })
    expect(bad.status).toBe(400)
  })

  test('an agent that reports no isolation (older) counts as none; its old CLI list still counts', async () => {
    const id = await machine('old-agent', {
      cpu_cores: 2,
      isolation: undefined,
      cli_tools: {
        'qwen-code': { installed: true, version: '0.1.0', path: '/bin/qwen' },
        'claude-code': { installed: false },
      },
    })
    const { body } = await machineView(id, admin)
    expect(body.machine.isolation.level).toBe('none')
    expect(body.machine.cli_tools).toEqual([{ name: 'qwen-code', version: '0.1.0', path: '/bin/qwen' }])
    expect(body.machine.allowed_cli_tools).toEqual(['qwen-code'])
  })
})
