// Tool permission requests: waiting for the person, surviving a reload, answered once; yolo and auto-edit.
import { describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, withCookie } from '../../test/support/client.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { agent, client, other, owner, startedSession, useSessionWorld } from './session-test-world.ts'

useSessionWorld()

describe('tool permissions', () => {
  const ask = (id: string, seq: number, requestId: string, tool: string) =>
    agent.askPermission(
      id,
      seq,
      requestId,
      tool,
      JSON.stringify({ type: 'control_request', request_id: requestId }),
    )

  async function pending(id: string, n: number) {
    return waitUntil(
      async () => {
        const list = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body
          .session.pending_permissions
        return list.length === n && list
      },
      { what: `${n} pending permission requests` },
    )
  }

  test('default mode: the request waits for the person, survives a reload, is answered once', async () => {
    const { id } = await startedSession()
    await ask(id, 0, 'req-1', 'run_shell_command')
    const [request] = await pending(id, 1)
    expect(request).toMatchObject({
      request_id: 'req-1',
      tool_name: 'run_shell_command',
      input: { command: 'ls' },
    })
    expect(
      (
        await reply(
          client.api.remote.sessions({ id }).permission.post(
            {
              request_id: 'req-1',
              allow: true,
            },
            withCookie(other.cookie),
          ),
        )
      ).status,
    ).toBe(404)
    const answer = await reply(
      client.api.remote.sessions({ id }).permission.post(
        {
          request_id: 'req-1',
          allow: true,
          always: true,
        },
        withCookie(owner.cookie),
      ),
    )
    expect(answer.body).toEqual({ request_id: 'req-1', decision: 'allowed', always: true })
    const cmd = (await waitUntil(
      () => agent.commands.find((c) => c.type === 'session.permission' && c.session_id === id),
      { what: 'session.permission', timeoutMs: 5000 },
    )) as CommandOf<'session.permission'>
    expect(cmd).toMatchObject({ request_id: 'req-1', allow: true, always: true })
    await pending(id, 0)
    expect(
      (
        await reply(
          client.api.remote.sessions({ id }).permission.post(
            {
              request_id: 'req-1',
              allow: false,
            },
            withCookie(owner.cookie),
          ),
        )
      ).status,
    ).toBe(409)
    expect(
      (
        await reply(
          client.api.remote.sessions({ id }).permission.post(
            {
              request_id: 'nope',
              allow: false,
            },
            withCookie(owner.cookie),
          ),
        )
      ).status,
    ).toBe(404)
  })

  test('yolo answers by itself; auto-edit only lets edits through', async () => {
    const { id } = await startedSession(owner.cookie, { permission_mode: 'auto-edit' })
    await ask(id, 0, 'edit-1', 'edit')
    await ask(id, 1, 'shell-1', 'run_shell_command')
    await waitUntil(
      () =>
        agent.commands.find(
          (c) => c.type === 'session.permission' && c.session_id === id && c.request_id === 'edit-1',
        ),
      { what: 'auto-allowed edit', timeoutMs: 5000 },
    )
    const [waiting] = await pending(id, 1)
    expect(waiting.request_id).toBe('shell-1')
    const patched = await reply(
      client.api.remote.sessions({ id }).patch(
        {
          permission_mode: 'yolo',
        },
        withCookie(owner.cookie),
      ),
    )
    expect(patched.body.session.permission_mode).toBe('yolo')
    await ask(id, 2, 'shell-2', 'run_shell_command')
    const auto = (await waitUntil(
      () =>
        agent.commands.find(
          (c) => c.type === 'session.permission' && c.session_id === id && c.request_id === 'shell-2',
        ),
      { what: 'auto-allowed shell', timeoutMs: 5000 },
    )) as CommandOf<'session.permission'>
    expect(auto.allow).toBe(true)
    await pending(id, 1)
  })
})
