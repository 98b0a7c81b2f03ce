// Continuing a stopped session: the agent gets a session.start resuming the CLI's conversation
// with output numbered on after the old output, the session goes stopped -> starting -> active,
// and each case the server can know is refused with its reason (still live, no resume in the
// CLI, no conversation named, machine offline, owner's access gone, agent too old).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessions } from '../db/schema/index.ts'
import { verifyProxyToken } from '../llm-proxy/tokens.ts'

let server: TestServer
let admin: string
let owner: { id: number; cookie: string }

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
type Json = Record<string, any>
let client: ReturnType<typeof testClient>

const CAPABILITIES = {
  ...FAKE_CAPABILITIES,
  max_sessions: 50,
  session_continue: true,
  cli_tools: [
    ...FAKE_CAPABILITIES.cli_tools,
    { name: 'openclaw', version: '2026.9.6', path: '/usr/bin/openclaw' },
  ],
}

async function machine(name: string, capabilities: Json = CAPABILITIES) {
  const reg = await registerMachine(server.request, admin, { name })
  await reply(
    client.api.remote.machines({ id: reg.machineId }).assign.post(
      {
        user_id: owner.id,
        permission: 'user',
      },
      withCookie(admin),
    ),
  )
  const agent = await FakeAgent.connectTo(server.url, reg, { capabilities })
  await waitUntil(
    async () => {
      const m = (await reply(client.api.remote.machines({ id: reg.machineId }).get(withCookie(admin)))).body
        .machine
      return m?.status === 'online'
    },
    { what: 'machine online' },
  )
  return { id: reg.machineId, agent }
}

/** A session that ran (its CLI named conversation `conversation`), printed `lines` records and was stopped. */
async function stoppedSession(
  m: { id: string; agent: FakeAgent },
  opts: { cliTool?: string; conversation?: string; lines?: number } = {},
) {
  const created = await reply(
    client.api.remote.sessions.post(
      {
        machine_id: m.id,
        project_path: '/work/app',
        ...(opts.cliTool ? { cli_tool: opts.cliTool } : {}),
      },
      withCookie(owner.cookie),
    ),
  )
  expect(created.status).toBe(201)
  const id = created.body.session.session_id as string
  await waitUntil(() => m.agent.commands.some((c) => c.type === 'session.start' && c.session_id === id), {
    what: 'start',
    timeoutMs: 5000,
  })
  await m.agent.send({ type: 'session.started', session_id: id })
  const lines = opts.lines ?? 0
  if (lines > 0)
    await m.agent.send({
      type: 'session.output',
      session_id: id,
      records: Array.from({ length: lines }, (_, seq) => ({
        seq,
        stream: 'stdout' as const,
        data: `line ${seq}`,
        ts: new Date().toISOString(),
        ...(seq === lines - 1 && opts.conversation
          ? { event: { kind: 'result' as const, text: 'done', cli_session_id: opts.conversation } }
          : {}),
      })),
    })
  await waitUntil(
    async () =>
      (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session.status ===
      'active',
    { what: 'active' },
  )
  expect(
    (await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(owner.cookie)))).status,
  ).toBe(200)
  await waitUntil(
    async () =>
      lines === 0 ||
      (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
        .last_seq ===
        lines - 1,
    { what: 'output stored' },
  )
  return id
}

let main: { id: string; agent: FakeAgent }
const others: FakeAgent[] = []

beforeAll(async () => {
  server = await startTestServer({ listen: true, env: { AGENT_OFFLINE_GRACE_MS: '200' } })
  client = testClient(server.app, server.url)
  admin = await server.login()
  owner = await createUser(server, admin, 'cora')
  main = await machine('main-box')
})
afterAll(async () => {
  await main?.agent.close()
  for (const a of others) await a.close()
  await server.stop()
})

describe('continuing a stopped session', () => {
  test('a new session.start resumes the conversation after the old output; stopped -> starting -> active', async () => {
    const id = await stoppedSession(main, { conversation: 'conv-42', lines: 3 })
    const res = await reply(
      client.api.remote.sessions({ id }).continue.post(undefined, withCookie(owner.cookie)),
    )
    expect(res.status).toBe(200)
    expect(res.body.session.status).toBe('starting')
    const starts = () =>
      main.agent.commands.filter((c) => c.type === 'session.start' && c.session_id === id) as Array<
        CommandOf<'session.start'>
      >
    const again = await waitUntil(() => starts()[1], { what: 'the second session.start', timeoutMs: 5000 })
    expect(again.resume_cli_session_id).toBe('conv-42')
    expect(again.next_seq).toBe(3)
    expect(again.project_path).toBe('/work/app')
    // A fresh proxy token: the stop revoked the first one.
    expect(await verifyProxyToken(server.ctx, starts()[0]!.proxy_token)).toBeNull()
    expect((await verifyProxyToken(server.ctx, again.proxy_token))?.sessionId).toBe(id)
    // The old process's exit, reported late, does not end the continued session.
    await main.agent.send({ type: 'session.exited', session_id: id, exit_code: 0, cli_session_id: 'conv-42' })
    await main.agent.send({ type: 'session.started', session_id: id })
    await main.agent.send({
      type: 'session.output',
      session_id: id,
      records: [{ seq: 3, stream: 'stdout', data: 'after continuing', ts: new Date().toISOString() }],
    })
    const detail = await waitUntil(
      async () => {
        const s = (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session
        return s.status === 'active' && s.last_seq === 3 ? s : undefined
      },
      { what: 'active again with the new output' },
    )
    expect(detail.ended_at ?? null).toBeNull()
    expect(detail.output.map((r: Json) => r.data)).toEqual(['line 0', 'line 1', 'line 2', 'after continuing'])
  })

  test('the conversation named only when the CLI exits (per-message CLIs) is kept for continuing', async () => {
    const id = await stoppedSession(main, { lines: 1 })
    await main.agent.send({
      type: 'session.exited',
      session_id: id,
      exit_code: 0,
      cli_session_id: 'thread-7',
    })
    await waitUntil(
      async () => {
        const [row] = await server.ctx.db.select().from(sessions).where(eq(sessions.id, id))
        return row?.cliSessionId === 'thread-7'
      },
      { what: 'cli session id stored' },
    )
    expect(
      (await reply(client.api.remote.sessions({ id }).continue.post(undefined, withCookie(owner.cookie))))
        .status,
    ).toBe(200)
  })

  test('a live session is refused: send it a message instead', async () => {
    const created = await reply(
      client.api.remote.sessions.post(
        {
          machine_id: main.id,
          project_path: '/w',
        },
        withCookie(owner.cookie),
      ),
    )
    const res = await reply(
      client.api.remote
        .sessions({ id: created.body.session.session_id })
        .continue.post(undefined, withCookie(owner.cookie)),
    )
    expect(res.status).toBe(409)
    expect(res.body.error.type).toBe('session_live')
    expect(res.body.error.message).toMatch(/still starting; send it a message/)
  })

  test('a CLI with no resume is refused with why (422)', async () => {
    const id = await stoppedSession(main, { cliTool: 'openclaw', lines: 1, conversation: 'oc-1' })
    const res = await reply(
      client.api.remote.sessions({ id }).continue.post(undefined, withCookie(owner.cookie)),
    )
    expect(res.status).toBe(422)
    expect(res.body.error.type).toBe('cli_cannot_resume')
    expect(res.body.error.message).toMatch(/OpenClaw/)
  })

  test('a CLI that never named its conversation leaves nothing to resume (409)', async () => {
    const id = await stoppedSession(main, { lines: 1 })
    const res = await reply(
      client.api.remote.sessions({ id }).continue.post(undefined, withCookie(owner.cookie)),
    )
    expect(res.status).toBe(409)
    expect(res.body.error.type).toBe('no_conversation')
  })

  test('an agent without session continuing is refused (409)', async () => {
    const { session_continue: _, ...old } = CAPABILITIES
    const m = await machine('old-box', old)
    others.push(m.agent)
    const id = await stoppedSession(m, { lines: 1, conversation: 'c-old' })
    const res = await reply(
      client.api.remote.sessions({ id }).continue.post(undefined, withCookie(owner.cookie)),
    )
    expect(res.status).toBe(409)
    expect(res.body.error.type).toBe('agent_cannot_continue')
  })

  test('an offline machine is refused with when it was last seen (409)', async () => {
    const m = await machine('gone-box')
    const id = await stoppedSession(m, { lines: 1, conversation: 'c-off' })
    await m.agent.close()
    await waitUntil(
      async () =>
        (await reply(client.api.remote.machines({ id: m.id }).get(withCookie(admin)))).body.machine
          ?.status === 'offline',
      { what: 'machine offline' },
    )
    const res = await reply(
      client.api.remote.sessions({ id }).continue.post(undefined, withCookie(owner.cookie)),
    )
    expect(res.status).toBe(409)
    expect(res.body.error.type).toBe('machine_offline')
  })

  test('an owner no longer assigned to the machine is told access is gone (403); others may not', async () => {
    const m = await machine('shared-box')
    others.push(m.agent)
    const id = await stoppedSession(m, { lines: 1, conversation: 'c-acc' })
    const stranger = await createUser(server, admin, 'stan')
    expect(
      (await reply(client.api.remote.sessions({ id }).continue.post(undefined, withCookie(stranger.cookie))))
        .status,
    ).toBe(404)
    expect(
      (await reply(client.api.remote.sessions({ id }).continue.post(undefined, withCookie(admin)))).status,
    ).toBe(403)
    expect(
      (
        await reply(
          client.api.remote
            .machines({ id: m.id })
            .assign({ user_id: owner.id })
            .delete(undefined, withCookie(admin)),
        )
      ).status,
    ).toBeLessThan(300)
    const res = await reply(
      client.api.remote.sessions({ id }).continue.post(undefined, withCookie(owner.cookie)),
    )
    expect(res.status).toBe(403)
    expect(res.body.error.type).toBe('access_gone')
    expect(res.body.error.message).toContain("'shared-box'")
  })
})
