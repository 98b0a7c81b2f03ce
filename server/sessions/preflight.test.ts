// What the server can know is refused at creation with its reason (CLI missing or path outside the
// roots 422, machine full 429 + Retry-After), and a repeated create with one Idempotency-Key makes one session.

import { describe, expect, test } from 'bun:test'
import { reply, withCookie } from '../../test/support/client.ts'
import { sessions } from '../db/schema/index.ts'
import {
  admin,
  agent,
  client,
  create,
  endAll,
  type Json,
  MAX_SESSIONS,
  machineId,
  owner,
  useReasonsWorld,
} from './reasons-test-world.ts'

useReasonsWorld()

describe('refused at creation with the reason', () => {
  test('a CLI the machine does not have is a 422 naming it', async () => {
    const res = await create({ cli_tool: 'claude-code' })
    expect(res.status).toBe(422)
    expect(res.body.error).toMatchObject({ type: 'cli_not_installed', field: 'cli_tool' })
    expect(res.body.error.message).toContain('claude-code is not installed on')
  })

  test('a project path outside the folders the agent allows is a 422', async () => {
    const res = await create({ project_path: '/etc/secret' })
    expect(res.status).toBe(422)
    expect(res.body.error).toMatchObject({ type: 'path_outside_roots', field: 'project_path' })
    expect(res.body.error.message).toContain('/srv/work')
    // A sibling sharing the prefix is outside too.
    expect((await create({ project_path: '/srv/workshop' })).status).toBe(422)
  })

  test('past the machine session limit: 429 with Retry-After, never 201 then error', async () => {
    await endAll()
    const made = [await create(), await create()]
    expect(made.map((r) => r.status)).toEqual([201, 201])
    const full = await create()
    expect(full.status).toBe(429)
    expect(full.body.error.type).toBe('machine_full')
    expect(full.body.error.message).toContain(`maximum of ${MAX_SESSIONS} sessions`)
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThan(0)
    // Nothing was made for the refused create; once one ends there is room again.
    const list = (await reply(client.api.remote.sessions.get(withCookie(owner.cookie)))).body
      .sessions as Json[]
    expect(list.filter((s) => s.status === 'starting')).toHaveLength(MAX_SESSIONS)
    await reply(
      client.api.remote
        .sessions({ id: made[0]!.body.session.session_id })
        .stop.post(undefined, withCookie(owner.cookie)),
    )
    expect((await create()).status).toBe(201)
    await endAll()
  })

  test("an admin's lower session limit applies, shown on the machine; null gives the agent's back", async () => {
    await endAll()
    const settings = (max_sessions: number | null) =>
      reply(client.api.remote.machines({ id: machineId }).settings.patch({ max_sessions }, withCookie(admin)))
    const set = await settings(1)
    expect(set.status).toBe(200)
    expect(set.body.machine).toMatchObject({
      max_sessions: 1,
      agent_max_sessions: MAX_SESSIONS,
      max_sessions_setting: 1,
    })
    expect((await create()).status).toBe(201)
    const full = await create()
    expect(full.status).toBe(429)
    expect(full.body.error.message).toContain('maximum of 1 session.')
    // A setting above the agent's limit does not raise it: the lower applies.
    expect((await settings(MAX_SESSIONS + 5)).body.machine.max_sessions).toBe(MAX_SESSIONS)
    expect((await create()).status).toBe(201)
    expect((await create()).status).toBe(429)
    const cleared = await settings(null)
    expect(cleared.body.machine).toMatchObject({ max_sessions: MAX_SESSIONS, max_sessions_setting: null })
    // Not a count: refused in words, and a plain user may not set it.
    const bad = await settings(0)
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('max_sessions')
    const plain = await reply(
      client.api.remote.machines({ id: machineId }).settings.patch(
        {
          max_sessions: 5,
        },
        withCookie(owner.cookie),
      ),
    )
    expect(plain.status).toBe(403)
    await endAll()
  })
})

describe('Idempotency-Key on POST /sessions', () => {
  test('four quick creates with one key make one session and answer it each time', async () => {
    await endAll()
    const before = (await reply(client.api.remote.sessions.get(withCookie(owner.cookie)))).body.sessions
      .length
    const key = { 'idempotency-key': `double-click-${crypto.randomUUID()}` }
    const first = await create({ title: 'once' }, key)
    expect(first.status).toBe(201)
    const again = await Promise.all([1, 2, 3].map(() => create({ title: 'once' }, key)))
    for (const r of again) {
      expect(r.status).toBe(201)
      expect(r.body.session.session_id).toBe(first.body.session.session_id)
    }
    const after = (await reply(client.api.remote.sessions.get(withCookie(owner.cookie)))).body.sessions.length
    expect(after).toBe(before + 1)
    // A different key is a different create.
    const other = await create({ title: 'twice' }, { 'idempotency-key': `other-${crypto.randomUUID()}` })
    expect(other.status).toBe(201)
    expect(other.body.session.session_id).not.toBe(first.body.session.session_id)
    await endAll()
  })

  test('concurrent creates with one key still make one session', async () => {
    await endAll()
    const key = { 'idempotency-key': `race-${crypto.randomUUID()}` }
    const answers = await Promise.all([1, 2, 3, 4].map(() => create({ title: 'race' }, key)))
    const ids = new Set(answers.filter((r) => r.status === 201).map((r) => r.body.session.session_id))
    expect(ids.size).toBe(1)
    for (const r of answers) expect([201, 409]).toContain(r.status)
    await endAll()
  })

  test('a refusal is kept for its key too; a malformed key is a 400', async () => {
    const key = { 'idempotency-key': `refused-${crypto.randomUUID()}` }
    expect((await create({ cli_tool: 'claude-code' }, key)).status).toBe(422)
    expect((await create({ cli_tool: 'claude-code' }, key)).status).toBe(422)
    const bad = await create({}, { 'idempotency-key': 'x'.repeat(300) })
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('Idempotency-Key')
  })
})
