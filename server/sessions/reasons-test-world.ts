// The world the session-reason tests share: a server, an owner and one machine whose fake agent
// takes at most MAX_SESSIONS sessions and has one CLI, plus create/endAll helpers. Each test file
// calls useReasonsWorld() for a fresh one; the bindings are live, so tests read them as plain names.
import { afterAll, beforeAll } from 'bun:test'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { sessions } from '../db/schema/index.ts'

export let server: TestServer
export let admin: string
export let owner: { id: number; cookie: string }
export let machineId: string
export let agent: FakeAgent
export const MAX_SESSIONS = 2
export let client: ReturnType<typeof testClient>

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
export type Json = Record<string, any>

export const create = (extra: Json = {}, headers?: Record<string, string>) =>
  reply(
    client.api.remote.sessions.post(
      { machine_id: machineId, project_path: '/srv/work/app', ...extra },
      { headers: { ...withCookie(owner.cookie).headers, ...headers } },
    ),
  )

export async function endAll() {
  const list = (await reply(client.api.remote.sessions.get(withCookie(owner.cookie)))).body.sessions as Json[]
  for (const s of list)
    if (['starting', 'active', 'paused'].includes(s.status))
      await reply(
        client.api.remote.sessions({ id: s.session_id }).stop.post(undefined, withCookie(owner.cookie)),
      )
}

/** Starts this world for the calling test file (its beforeAll) and stops it after (its afterAll). */
export function useReasonsWorld() {
  beforeAll(async () => {
    server = await startTestServer({ listen: true })
    client = testClient(server.app, server.url)
    admin = await server.login()
    owner = await createUser(server, admin, 'rhea')
    const reg = await registerMachine(server.request, admin, { name: 'lab-box' })
    machineId = reg.machineId
    await reply(
      client.api.remote.machines({ id: machineId }).assign.post(
        {
          user_id: owner.id,
          permission: 'user',
        },
        withCookie(admin),
      ),
    )
    agent = await FakeAgent.connectTo(server.url, reg, {
      capabilities: {
        ...FAKE_CAPABILITIES,
        max_sessions: MAX_SESSIONS,
        fs_roots: ['/srv/work', '/home/rhea'],
        // Claude Code is known to the agent but not found on this machine.
        cli_tools: [{ name: 'qwen-code', version: '0.24.4', path: '/usr/bin/qwen' }],
      },
    })
    await waitUntil(
      async () => {
        const { body } = await reply(client.api.remote.machines({ id: machineId }).get(withCookie(admin)))
        const m = body.machine ?? body
        return m.status === 'online' && m.capabilities?.max_sessions === MAX_SESSIONS
      },
      { what: 'machine online with its capabilities' },
    )
  })
  afterAll(async () => {
    await agent?.close()
    await server.stop()
  })
}
