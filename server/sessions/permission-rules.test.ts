// An "always allow" answer is honoured for the rest of the session, until the rule is revoked.
import { describe, expect, test } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, withCookie } from '../../test/support/client.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessions } from '../db/schema/index.ts'
import {
  agent,
  client,
  create,
  endAll,
  type Json,
  owner,
  server,
  useReasonsWorld,
} from './reasons-test-world.ts'

useReasonsWorld()

describe('"always allow" is honoured for the session', () => {
  const ask = (id: string, seq: number, requestId: string, tool: string) =>
    agent.askPermission(id, seq, requestId, tool)
  const answers = (id: string, requestId: string) =>
    agent.commands.filter(
      (c): c is CommandOf<'session.permission'> =>
        c.type === 'session.permission' && c.session_id === id && c.request_id === requestId,
    )

  test('the next request of that tool is allowed without asking; revoking the rule asks again', async () => {
    await endAll()
    const id = (await create()).body.session.session_id as string
    await agent.send({ type: 'session.started', session_id: id })
    await ask(id, 0, 'r1', 'run_shell_command')
    await waitUntil(
      async () =>
        (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
          .pending_permissions.length === 1,
      { what: 'first request pending' },
    )
    const answered = await reply(
      client.api.remote.sessions({ id }).permission.post(
        {
          request_id: 'r1',
          allow: true,
          always: true,
        },
        withCookie(owner.cookie),
      ),
    )
    expect(answered.body).toEqual({ request_id: 'r1', decision: 'allowed', always: true })
    const rules = await reply(
      client.api.remote.sessions({ id })['permission-rules'].get(withCookie(owner.cookie)),
    )
    expect(rules.body.rules.map((r: Json) => r.tool_name)).toEqual(['run_shell_command'])

    // Same tool again: answered by the server at once, nothing waits for the person.
    await ask(id, 1, 'r2', 'run_shell_command')
    const auto = await waitUntil(() => answers(id, 'r2')[0], { what: 'automatic answer', timeoutMs: 5000 })
    expect(auto).toMatchObject({ allow: true })
    const view = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
    expect(view.pending_permissions).toHaveLength(0)
    expect(view.permission_outcomes.find((o: Json) => o.request_id === 'r2')).toMatchObject({
      decision: 'allowed',
      by: 'auto',
    })
    expect(view.permission_rules.map((r: Json) => r.tool_name)).toEqual(['run_shell_command'])

    // Another tool still asks.
    await ask(id, 2, 'r3', 'write_file')
    await waitUntil(
      async () =>
        (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
          .pending_permissions.length === 1,
      { what: 'other tool pending' },
    )
    expect(answers(id, 'r3')).toHaveLength(0)

    // Revoked: the shell asks again.
    const revoked = await reply(
      client.api.remote
        .sessions({ id })
        ['permission-rules']({ tool: 'run_shell_command' })
        .delete(undefined, withCookie(owner.cookie)),
    )
    expect(revoked.body.rules).toEqual([])
    expect(
      (
        await reply(
          client.api.remote
            .sessions({ id })
            ['permission-rules']({ tool: 'run_shell_command' })
            .delete(undefined, withCookie(owner.cookie)),
        )
      ).status,
    ).toBe(404)
    await ask(id, 3, 'r4', 'run_shell_command')
    await waitUntil(
      async () =>
        (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
          .pending_permissions.length === 2,
      { what: 'asks again after revoke' },
    )
    expect(answers(id, 'r4')).toHaveLength(0)
    await endAll()
  })
})
