// Testing a stored key: one models call the provider's way, answered in words, never with the
// key. Against the fake upstream: a key it accepts, one it refuses with 401, and a key pointed
// at a port nobody listens on; a disabled key can be tested too; a test is audited.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { type FakeLlm, startFakeLlm } from '../../test/support/fake-llm.ts'
import { storeKey } from '../../test/support/llm-proxy.ts'
import { startTestServer, type TestServer } from '../../test/support/server.ts'

const GOOD = 'sk-good-key-test-1111'
const BAD = 'sk-refused-key-test-2222'

let server: TestServer
let admin: string
let fake: FakeLlm
let closedPort: number

beforeAll(async () => {
  fake = await startFakeLlm({
    models: ['fake-a', 'fake-b'],
    forKey: { [BAD]: { status: 401, errorMessage: 'Incorrect API key provided' } },
  })
  server = await startTestServer()
  admin = await server.login()
  const probe = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('') })
  closedPort = probe.port!
  await probe.stop(true)
})

afterAll(async () => {
  await server.stop()
  await fake.close()
})

interface TestAnswer {
  ok: boolean
  status: number | null
  message: string
  models: string[]
}

async function testKey(id: number, cookie = admin) {
  const res = await server.request(`/api/remote/api-keys/${id}/test`, { method: 'POST', cookie })
  const text = await res.text()
  for (const secret of [GOOD, BAD]) expect(text).not.toContain(secret)
  return { status: res.status, body: JSON.parse(text) as TestAnswer }
}

describe('POST /api/remote/api-keys/{id}/test', () => {
  test('a key the provider accepts: ok, with the models it serves', async () => {
    const id = await storeKey(server, admin, {
      provider: 'openai',
      key_name: 'good',
      api_key: GOOD,
      base_url: `${fake.url}/v1`,
    })
    const { status, body } = await testKey(id)
    expect(status).toBe(200)
    expect(body).toMatchObject({ ok: true, status: 200, models: ['fake-a', 'fake-b'] })
    expect(body.message).toBe('The openai API accepted the key and lists 2 models')
    const sent = fake.requests.at(-1)!
    expect([sent.method, sent.path, sent.key]).toEqual(['GET', '/v1/models', GOOD])
  })

  test("a key the provider refuses: not ok, the status and the provider's words", async () => {
    const id = await storeKey(server, admin, {
      provider: 'openai',
      key_name: 'refused',
      api_key: BAD,
      base_url: `${fake.url}/v1`,
    })
    const { status, body } = await testKey(id)
    expect(status).toBe(200)
    expect(body).toMatchObject({ ok: false, status: 401, models: [] })
    expect(body.message).toBe('The openai API answered 401 Unauthorized: Incorrect API key provided')
  })

  test('a key pointed at a closed port: not ok, "connection refused"', async () => {
    const id = await storeKey(server, admin, {
      provider: 'anthropic',
      key_name: 'nowhere',
      api_key: GOOD,
      base_url: `http://127.0.0.1:${closedPort}`,
    })
    const { body } = await testKey(id)
    expect(body).toMatchObject({ ok: false, status: null })
    expect(body.message).toBe(`Could not reach http://127.0.0.1:${closedPort}: connection refused`)
  })

  test('a disabled key can be tested; the test is audited with its outcome; no session 401, unknown ids 404', async () => {
    const id = await storeKey(server, admin, {
      provider: 'openai',
      key_name: 'off',
      api_key: GOOD,
      base_url: `${fake.url}/v1`,
    })
    await server.request(`/api/remote/api-keys/${id}`, {
      method: 'PATCH',
      cookie: admin,
      json: { status: 'disabled' },
    })
    expect((await testKey(id)).body.ok).toBe(true)
    const audit = (await (
      await server.request(`/api/audit?event=api_key.test&target_id=${id}`, { cookie: admin })
    ).json()) as { entries: Array<{ outcome: string; target: { name: string } }> }
    expect(audit.entries.map((e) => [e.outcome, e.target.name])).toEqual([['success', 'off']])
    expect((await testKey(999_999)).status).toBe(404)
    expect((await server.request(`/api/remote/api-keys/${id}/test`, { method: 'POST' })).status).toBe(401)
  })

  test('PATCH renames a key; a taken name is 409 on key_name', async () => {
    const id = await storeKey(server, admin, { provider: 'google', key_name: 'old-name', api_key: GOOD })
    await storeKey(server, admin, { provider: 'google', key_name: 'taken', api_key: GOOD })
    const rename = async (key_name: string) =>
      server.request(`/api/remote/api-keys/${id}`, { method: 'PATCH', cookie: admin, json: { key_name } })
    const ok = await rename('new-name')
    expect(ok.status).toBe(200)
    expect(((await ok.json()) as { api_key: { key_name: string } }).api_key.key_name).toBe('new-name')
    const taken = await rename('taken')
    expect(taken.status).toBe(409)
    expect(((await taken.json()) as { error: { field: string } }).error.field).toBe('key_name')
  })
})
