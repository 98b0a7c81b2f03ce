// Body limits and media types at the edge: an oversized body is a 413 in the error shape
// before it is buffered (declared or streamed), and JSON endpoints refuse forms (415).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer
let admin: string
const MB = 1024 * 1024

beforeAll(async () => {
  server = await startTestServer({ listen: true })
  admin = await server.login()
})
afterAll(() => server.stop())

/** A JSON body that never ends by itself, counting how much of it the server pulled. */
function endlessJson() {
  const chunk = new TextEncoder().encode(`"${'x'.repeat(64 * 1024 - 3)}",`)
  const counter = { pulled: 0 }
  let first = true
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (first) {
        controller.enqueue(new TextEncoder().encode('{"username":"admin","password":['))
        first = false
      }
      counter.pulled += chunk.byteLength
      if (counter.pulled > 200 * MB) controller.close()
      else controller.enqueue(chunk)
    },
  })
  return { stream, counter }
}

async function expect413(res: Response) {
  expect(res.status).toBe(413)
  const body = (await res.json()) as { error: { type: string; message: string } }
  expect(body.error.type).toBe('payload_too_large')
}

describe('request body limits', () => {
  test('a 60 MB login body is refused from its Content-Length, not parsed', async () => {
    const body = `{"username":"admin","password":"${'x'.repeat(60 * MB)}"}`
    await expect413(
      await fetch(`${server.url}/api/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body,
      }),
    )
  })

  test('registration takes at most the JSON API limit', async () => {
    const res = await fetch(`${server.url}/api/remote/agent/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ registration_token: 'x'.repeat(2 * MB) }),
    })
    await expect413(res)
  })

  test('a streamed body without Content-Length is cut off at the limit', async () => {
    const { stream, counter } = endlessJson()
    const res = await server.app.handle(
      new Request('http://localhost/api/auth/login', {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
        body: stream,
        duplex: 'half',
      } as RequestInit),
    )
    await expect413(res)
    expect(counter.pulled).toBeLessThan(2 * MB)
  })

  test('a body within the limit still works', async () => {
    const res = await server.request('/api/auth/login', {
      method: 'POST',
      json: { username: 'admin', password: 'x'.repeat(1000) },
    })
    expect(res.status).toBe(401)
  })
})

describe('JSON endpoints take only application/json', () => {
  test('a form-encoded login is 415', async () => {
    const res = await server.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'username=admin&password=admin123',
    })
    expect(res.status).toBe(415)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('unsupported_media_type')
    expect(res.headers.getSetCookie()).toEqual([])
  })

  test('a multipart body is 415 (curl -F content=...)', async () => {
    const form = new FormData()
    form.set('username', 'admin')
    form.set('password', 'admin123')
    const res = await server.request('/api/users', { method: 'POST', cookie: admin, body: form })
    expect(res.status).toBe(415)
  })

  test('a body without a Content-Type is 415; no body at all is fine', async () => {
    const res = await server.request('/api/auth/login', {
      method: 'POST',
      body: new TextEncoder().encode('{"username":"admin","password":"admin123"}'),
    })
    expect(res.status).toBe(415)
    const logout = await server.request('/api/auth/logout', { method: 'POST', cookie: admin })
    expect(logout.status).toBe(200)
  })

  test('application/json with a charset, and +json types, are JSON', async () => {
    const res = await server.request('/api/auth/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify({ username: 'admin', password: 'admin123' }),
    })
    expect(res.status).toBe(200)
  })
})
