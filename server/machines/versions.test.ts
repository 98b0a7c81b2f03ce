// The fleet's agent versions against the version of the binaries this server serves.
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { registerMachine } from '../../test/support/fake-agent.ts'
import { createUser, startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer
let admin: string
const dist = mkdtempSync(join(tmpdir(), 'oa-dist-'))

beforeAll(async () => {
  server = await startTestServer({ env: { AGENT_DIST_DIR: dist } })
  admin = await server.login()
}, 60_000)
afterAll(async () => {
  await server.stop()
  rmSync(dist, { recursive: true, force: true })
}, 60_000)

const versions = async (cookie = admin) => {
  const res = await server.request('/api/remote/machines/versions', { cookie })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

test('without built binaries nothing counts as outdated', async () => {
  await registerMachine(server.request, admin)
  const { body } = await versions()
  expect(body.served_version).toBeNull()
  expect(body.outdated).toBe(0)
})

test('machines are counted per version, and those not on the served version are outdated', async () => {
  writeFileSync(join(dist, 'VERSION'), '9.9.9+test\n')
  await registerMachine(server.request, admin)
  const { status, body } = await versions()
  expect(status).toBe(200)
  expect(body.served_version).toBe('9.9.9+test')
  expect(body.versions).toEqual([{ version: '0.0.0-test', machines: 2, online: 0, current: false }])
  expect(body.outdated).toBe(2)
})

test('only system admins see the fleet view', async () => {
  const user = await createUser(server, admin, 'vera')
  expect((await versions(user.cookie)).status).toBe(403)
})
