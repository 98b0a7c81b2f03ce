// Who may see and steer a session: owner, machine admin, other users and system admins.
import { describe, expect, test } from 'bun:test'
import {
  admin,
  call,
  type Json,
  machineAdmin,
  newSession,
  other,
  outsider,
  owner,
  started,
  useSessionWorld,
} from './session-test-world.ts'

useSessionWorld()

describe('who may see and steer a session', () => {
  test('another user sees 404; the machine admin may view and stop but not chat; lists follow suit', async () => {
    const { id } = await newSession()
    await started(id)
    expect((await call('GET', `/api/remote/sessions/${id}`, other.cookie)).status).toBe(404)
    expect((await call('POST', `/api/remote/sessions/${id}/stop`, other.cookie)).status).toBe(404)
    expect((await call('GET', `/api/remote/sessions/${id}`, outsider.cookie)).status).toBe(404)
    expect((await call('GET', `/api/remote/sessions/${id}`, machineAdmin.cookie)).status).toBe(200)
    expect(
      (await call('POST', `/api/remote/sessions/${id}/chat`, machineAdmin.cookie, { content: 'hi' })).status,
    ).toBe(403)
    expect((await call('POST', `/api/remote/sessions/${id}/pause`, machineAdmin.cookie)).status).toBe(403)
    const otherList = (await call('GET', '/api/remote/sessions', other.cookie)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(otherList).not.toContain(id)
    const adminList = (await call('GET', '/api/remote/sessions', machineAdmin.cookie)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(adminList).toContain(id)
    const sysList = (await call('GET', '/api/remote/sessions?all=true', admin)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(sysList).toContain(id)
    const sysOwn = (await call('GET', '/api/remote/sessions?all=false', admin)).body.sessions.map(
      (s: Json) => s.session_id,
    )
    expect(sysOwn).not.toContain(id)
    expect((await call('POST', `/api/remote/sessions/${id}/stop`, machineAdmin.cookie)).body.status).toBe(
      'stopped',
    )
  })

  test('system admins may pause, resume and stop anyone', async () => {
    const { id } = await newSession()
    await started(id)
    expect((await call('POST', `/api/remote/sessions/${id}/pause`, admin)).body.status).toBe('paused')
    expect((await call('POST', `/api/remote/sessions/${id}/resume`, admin)).body.status).toBe('active')
    expect((await call('POST', `/api/remote/sessions/${id}/chat`, admin, { content: 'x' })).status).toBe(403)
    expect((await call('POST', `/api/remote/sessions/${id}/stop`, admin)).body.status).toBe('stopped')
  })

  test('a malformed id is a 400 naming it, an unknown one a 404', async () => {
    const bad = await call('GET', '/api/remote/sessions/not-a-uuid', owner.cookie)
    expect(bad.status).toBe(400)
    expect(bad.body.error.field).toBe('id')
    expect((await call('GET', `/api/remote/sessions/${crypto.randomUUID()}`, owner.cookie)).status).toBe(404)
  })
})
