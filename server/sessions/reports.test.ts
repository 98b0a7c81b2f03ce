// What the session says about itself: an agent-reported failure kept as error {code, message},
// input and output tokens and the model in use, and the working state of a turn.
import { describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import { reply, withCookie } from '../../test/support/client.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessions } from '../db/schema/index.ts'
import { flushUsage, recordUsage } from '../quota/ledger.ts'
import {
  agent,
  client,
  create,
  endAll,
  type Json,
  machineId,
  owner,
  server,
  useReasonsWorld,
} from './reasons-test-world.ts'

useReasonsWorld()

describe('what the session says about itself', () => {
  test('an agent-reported failure is kept as error {code, message}', async () => {
    await endAll()
    const made = await create()
    const id = made.body.session.session_id as string
    expect(made.body.session.error).toBeNull()
    await agent.send({
      type: 'session.error',
      session_id: id,
      code: 'bad_project_path',
      message: 'The folder /srv/work/app does not exist on lab-box',
    })
    const view = await waitUntil(
      async () => {
        const s = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
        return s.status === 'error' ? s : undefined
      },
      { what: 'session in error' },
    )
    expect(view.error).toEqual({
      code: 'bad_project_path',
      message: 'The folder /srv/work/app does not exist on lab-box',
    })
    const listed = (await reply(client.api.remote.sessions.get(withCookie(owner.cookie)))).body.sessions.find(
      (s: Json) => s.session_id === id,
    )
    expect(listed.error.code).toBe('bad_project_path')
  })

  test('the detail splits input and output tokens and names the model in use', async () => {
    await endAll()
    const id = (await create({ model: '' })).body.session.session_id as string
    for (const [input, output, model] of [
      [100, 20, 'qwen3-coder-plus'],
      [50, 5, 'qwen3.7-max'],
    ] as const) {
      recordUsage(server.ctx, {
        ts: new Date(),
        userId: owner.id,
        tenantId: 1,
        sessionId: id,
        machineId,
        provider: 'openai',
        model,
        apiKeyId: null,
        inputTokens: input,
        outputTokens: output,
        requests: 1,
        latencyMs: 5,
        status: 200,
      })
      await flushUsage(server.ctx)
      await Bun.sleep(5)
    }
    const s = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
    expect(s).toMatchObject({
      total_tokens: 175,
      input_tokens: 150,
      output_tokens: 25,
      model_in_use: 'qwen3.7-max',
    })
    await endAll()
  })

  test('working: a sent message starts a turn, tool events name the tool, the result ends it', async () => {
    await endAll()
    const id = (await create()).body.session.session_id as string
    await agent.send({ type: 'session.started', session_id: id })
    await waitUntil(
      async () => {
        const [row] = await server.ctx.db.select().from(sessions).where(eq(sessions.id, id))
        return row?.status === 'active'
      },
      { what: 'active' },
    )
    await reply(
      client.api.remote.sessions({ id }).chat.post({ content: 'list files' }, withCookie(owner.cookie)),
    )
    const get = async () =>
      (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
    expect((await get()).working).toMatchObject({ tool: null })
    const ts = () => new Date().toISOString()
    await agent.reportEvent(id, 0, {
      kind: 'tool_use',
      tool_use_id: 't1',
      name: 'run_shell_command',
      input: { command: 'ls' },
    })
    await waitUntil(async () => (await get()).working?.tool === 'run_shell_command', { what: 'current tool' })
    await agent.send({
      type: 'session.output',
      session_id: id,
      records: [
        {
          seq: 1,
          stream: 'stdout',
          data: '',
          ts: ts(),
          event: { kind: 'tool_result', tool_use_id: 't1', output: 'a' },
        },
        { seq: 2, stream: 'stdout', data: '', ts: ts(), event: { kind: 'result', text: 'done' } },
      ],
    })
    await waitUntil(async () => (await get()).working === null, { what: 'turn over' })
    await endAll()
  })
})
