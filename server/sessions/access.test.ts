// Who may see and steer a session: owner, machine admin, other users and system admins.

import { describe, expect, test } from 'bun:test'
import { reply, withCookie } from '../../test/support/client.ts'
import {
  admin,
  client,
  type Json,
  machineAdmin,
  other,
  outsider,
  owner,
  startedSession,
  useSessionWorld,
} from './session-test-world.ts'

useSessionWorld()

describe('who may see and steer a session', () => {
  test('another user sees 404; the machine admin may view and stop but not chat; lists follow suit', async () => {
    const { id } = await startedSession()
    expect((await reply(client.api.remote.sessions({ id }).get(withCookie(other.cookie)))).status).toBe(404)
    expect(
      (await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(other.cookie)))).status,
    ).toBe(404)
    expect((await reply(client.api.remote.sessions({ id }).get(withCookie(outsider.cookie)))).status).toBe(
      404,
    )
    expect(
      (await reply(client.api.remote.sessions({ id }).get(withCookie(machineAdmin.cookie)))).status,
    ).toBe(200)
    expect(
      (
        await reply(
          client.api.remote.sessions({ id }).chat.post({ content: 'hi' }, withCookie(machineAdmin.cookie)),
        )
      ).status,
    ).toBe(403)
    expect(
      (await reply(client.api.remote.sessions({ id }).pause.post(undefined, withCookie(machineAdmin.cookie))))
        .status,
    ).toBe(403)
    const otherList = (
      await reply(client.api.remote.sessions.get(withCookie(other.cookie)))
    ).body.sessions.map((s: Json) => s.session_id)
    expect(otherList).not.toContain(id)
    const adminList = (
      await reply(client.api.remote.sessions.get(withCookie(machineAdmin.cookie)))
    ).body.sessions.map((s: Json) => s.session_id)
    expect(adminList).toContain(id)
    const sysList = (
      await reply(client.api.remote.sessions.get({ query: { all: true }, ...withCookie(admin) }))
    ).body.sessions.map((s: Json) => s.session_id)
    expect(sysList).toContain(id)
    const sysOwn = (
      await reply(client.api.remote.sessions.get({ query: { all: false }, ...withCookie(admin) }))
    ).body.sessions.map((s: Json) => s.session_id)
    expect(sysOwn).not.toContain(id)
    expect(
      (await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(machineAdmin.cookie))))
        .body.status,
    ).toBe('stopped')
  })

  test('system admins may pause, resume and stop anyone', async () => {
    const { id } = await startedSession()
    expect(
      (await reply(client.api.remote.sessions({ id }).pause.post(undefined, withCookie(admin)))).body.status,
    ).toBe('paused')
    expect(
      (await reply(client.api.remote.sessions({ id }).resume.post(undefined, withCookie(admin)))).body.status,
    ).toBe('active')
    expect(
      (await reply(client.api.remote.sessions({ id }).chat.post({ content: 'x' }, withCookie(admin)))).status,
    ).toBe(403)
    expect(
      (await reply(client.api.remote.sessions({ id }).stop.post(undefined, withCookie(admin)))).body.status,
    ).toBe('stopped')
  })

  test('a malformed id is a 400 naming it, an unknown one a 404', async () => {
    const bad = await reply(client.api.remote.sessions({ id: 'not-a-uuid' }).get(withCookie(owner.cookie)))
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('id')
    expect(
      (await reply(client.api.remote.sessions({ id: crypto.randomUUID() }).get(withCookie(owner.cookie))))
        .status,
    ).toBe(404)
  })
})
