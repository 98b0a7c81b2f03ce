// The world the session tests share: a listening server, an admin, four users (owner, other,
// machine admin, outsider), one machine assigned to three of them, and a fake agent connected over
// WebSocket. Each test file calls useSessionWorld() for a fresh one; the bindings are live, so the
// tests read them as plain names.
import { afterAll, beforeAll, expect } from 'bun:test'
import type { CommandOf } from '../../protocol/index.ts'
import { reply, testClient, withCookie } from '../../test/support/client.ts'
import { FAKE_CAPABILITIES, FakeAgent, registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'
import { waitUntil } from '../../test/support/wait-until.ts'

export let server: TestServer
export let admin: string
export let owner: { id: number; cookie: string }
export let other: { id: number; cookie: string }
export let machineAdmin: { id: number; cookie: string }
export let outsider: { id: number; cookie: string }
export let machineId: string
export let agent: FakeAgent
export let client: ReturnType<typeof testClient>

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, checked by the assertions
export type Json = Record<string, any>

export async function waitOnline(id: string) {
  await waitUntil(
    async () => {
      const { body } = await reply(client.api.remote.machines({ id }).get(withCookie(admin)))
      return body.status === 'online' || body.machine?.status === 'online'
    },
    { what: 'machine online' },
  )
}

export async function newSession(cookie = owner.cookie, extra: Json = {}) {
  const res = await reply(
    client.api.remote.sessions.post(
      {
        machine_id: machineId,
        project_path: '/work/project',
        ...extra,
      },
      withCookie(cookie),
    ),
  )
  expect(res.status).toBe(201)
  const id = res.body.session.session_id as string
  const start = (await waitUntil(
    () => agent.commands.find((c) => c.type === 'session.start' && c.session_id === id),
    { what: 'session.start', timeoutMs: 5000 },
  )) as CommandOf<'session.start'>
  return { id, start }
}

async function started(id: string) {
  await agent.send({ type: 'session.started', session_id: id, cli_session_id: `cli-${id.slice(0, 4)}` })
  await waitUntil(
    async () =>
      (await reply(client.api.remote.sessions({ id }).get(withCookie(owner.cookie)))).body.session.status ===
      'active',
    { what: 'session active' },
  )
}

/** A new session its agent has reported started (so active): where most session tests begin. */
export async function startedSession(cookie = owner.cookie, extra: Json = {}) {
  const session = await newSession(cookie, extra)
  await started(session.id)
  return session
}

export const output = (id: string, from: number, n: number) =>
  agent.send({
    type: 'session.output',
    session_id: id,
    records: Array.from({ length: n }, (_, i) => ({
      seq: from + i,
      stream: 'stdout',
      data: `line ${from + i}`,
      ts: new Date().toISOString(),
    })),
  })

/** Starts this world for the calling test file (its beforeAll) and stops it after (its afterAll). */
export function useSessionWorld() {
  beforeAll(async () => {
    server = await startTestServer({ listen: true })
    client = testClient(server.app, server.url)
    admin = await server.login()
    owner = await createUser(server, admin, 'owen')
    other = await createUser(server, admin, 'otto')
    machineAdmin = await createUser(server, admin, 'mara')
    outsider = await createUser(server, admin, 'oscar')
    const reg = await registerMachine(server.request, admin, { name: 'build-box' })
    machineId = reg.machineId
    for (const [u, permission] of [
      [owner, 'user'],
      [other, 'user'],
      [machineAdmin, 'admin'],
    ] as const) {
      const res = await reply(
        client.api.remote.machines({ id: machineId }).assign.post(
          {
            user_id: u.id,
            permission,
          },
          withCookie(admin),
        ),
      )
      expect(res.status).toBeLessThan(300)
    }
    // Room for every session these tests start (the server refuses past the machine's limit).
    agent = await FakeAgent.connectTo(server.url, reg, {
      capabilities: { ...FAKE_CAPABILITIES, max_sessions: 100 },
    })
    await waitOnline(machineId)
  })
  afterAll(async () => {
    await agent?.close()
    await server.stop()
  })
}
