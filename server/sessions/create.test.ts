// Creating a session: what is queued for the agent (a proxy token, never a provider key) and each refusal.
import { describe, expect, test } from 'bun:test'
import { reply, withCookie } from '../../test/support/client.ts'
import { registerMachine } from '../../test/support/fake-agent.ts'
import { verifyProxyToken } from '../llm-proxy/tokens.ts'
import {
  admin,
  client,
  machineId,
  newSession,
  output,
  outsider,
  owner,
  server,
  useSessionWorld,
} from './session-test-world.ts'

useSessionWorld()

describe('creating a session', () => {
  test('queues session.start with a proxy token for the proxy, never a provider key', async () => {
    const { id, start } = await newSession(owner.cookie, { title: 'First', model: 'qwen3-coder' })
    expect(start.project_path).toBe('/work/project')
    expect(start.model).toBe('qwen3-coder')
    expect(start.cli_tool).toBe('qwen-code')
    expect(start.proxy_base_url).toBe(`${server.url}/api/remote/llm-proxy`)
    expect(start.permission_mode).toBe('default')
    const claims = await verifyProxyToken(server.ctx, start.proxy_token)
    expect(claims?.sessionId).toBe(id)
    expect(claims?.provider).toBe('openai')
    const { body } = await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))
    expect(body.session).toMatchObject({
      session_id: id,
      status: 'starting',
      machine_id: machineId,
      workspace_type: 'remote',
      project_path: '/work/project',
      model: 'qwen3-coder',
      total_tokens: 0,
      message_count: 0,
      output: [],
    })
  })

  test('claude-code sessions get an anthropic proxy token', async () => {
    const { start } = await newSession(owner.cookie, { cli_tool: 'claude-code' })
    expect((await verifyProxyToken(server.ctx, start.proxy_token))?.provider).toBe('anthropic')
  })

  test('refusals: unassigned 403, unknown machine 404, bad fields 400, logged out 401', async () => {
    expect(
      (
        await reply(
          client.api.remote.sessions.post(
            {
              machine_id: machineId,
              project_path: '/x',
            },
            withCookie(outsider.cookie),
          ),
        )
      ).status,
    ).toBe(403)
    expect(
      (
        await reply(
          client.api.remote.sessions.post(
            {
              machine_id: 'no-such-machine',
              project_path: '/x',
            },
            withCookie(owner.cookie),
          ),
        )
      ).status,
    ).toBe(404)
    const bad = await reply(
      client.api.remote.sessions.post(
        {
          machine_id: machineId,
          project_path: '',
        },
        withCookie(owner.cookie),
      ),
    )
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('project_path')
    // An unknown mode goes raw: Eden's types refuse it.
    const mode = await server.request('/api/remote/sessions', {
      method: 'POST',
      cookie: owner.cookie,
      json: { machine_id: machineId, project_path: '/x', permission_mode: 'reckless' },
    })
    expect((await mode.json()).error.field).toBe('permission_mode')
    expect(
      (await reply(client.api.remote.sessions.post({ machine_id: machineId, project_path: '/x' }))).status,
    ).toBe(401)
  })

  test('an offline machine is refused with a reason a person understands', async () => {
    const reg = await registerMachine(server.request, admin, { name: 'sleepy-box' })
    await reply(
      client.api.remote.machines({ id: reg.machineId }).assign.post(
        {
          user_id: owner.id,
          permission: 'user',
        },
        withCookie(admin),
      ),
    )
    const res = await reply(
      client.api.remote.sessions.post(
        {
          machine_id: reg.machineId,
          project_path: '/x',
        },
        withCookie(owner.cookie),
      ),
    )
    expect(res.status).toBe(409)
    expect(res.body.error.type).toBe('machine_offline')
    expect(res.body.error.message).toMatch(/sleepy-box.*offline/)
    expect(res.body.error.field).toBe('machine_id')
  })
})
