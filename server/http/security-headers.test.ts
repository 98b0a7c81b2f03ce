// Security headers on every response: API answers (errors and 404s included) are never sniffed,
// never cached (login, registration and token rotation carry credentials) and never framed;
// HSTS only when the public address is https.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { baseSecurityHeaders } from './security-headers.ts'

let server: TestServer
let admin: string

beforeAll(async () => {
  server = await startTestServer()
  admin = await server.login()
})
afterAll(() => server.stop())

function expectHardened(res: Response) {
  expect(res.headers.get('x-content-type-options')).toBe('nosniff')
  expect(res.headers.get('referrer-policy')).toBe('same-origin')
  expect(res.headers.get('cache-control')).toBe('no-store')
  expect(res.headers.get('content-security-policy')).toContain("frame-ancestors 'none'")
}

describe('security headers', () => {
  test('every kind of API answer carries them: success, validation error, 401, 404', async () => {
    expectHardened(await server.request('/api/health'))
    expectHardened(await server.request('/api/auth/me'))
    expectHardened(await server.request('/api/nope'))
    expectHardened(await server.request('/api/users', { method: 'POST', cookie: admin, json: {} }))
  })

  test('answers carrying a credential are no-store: login, registration token, agent token, rotation', async () => {
    const login = await server.request('/api/auth/login', {
      method: 'POST',
      json: { username: 'admin', password: 'admin123' },
    })
    expect(login.status).toBe(200)
    expectHardened(login)
    const token = await server.request('/api/remote/machines/register', {
      method: 'POST',
      cookie: admin,
      json: { tenant_id: 1 },
    })
    expectHardened(token)
    const { registration_token } = (await token.json()) as { registration_token: string }
    const machineId = crypto.randomUUID()
    const register = await server.request('/api/remote/agent/register', {
      method: 'POST',
      json: {
        registration_token,
        machine_id: machineId,
        machine_name: 'h',
        hostname: 'h',
        os_type: 'linux',
        os_version: '12',
        capabilities: {},
        agent_version: '1.0.0',
      },
    })
    expect(register.status).toBe(200)
    expectHardened(register)
    const rotate = await server.request(`/api/remote/machines/${machineId}/token/rotate`, {
      method: 'POST',
      cookie: admin,
    })
    expect(rotate.status).toBe(200)
    expectHardened(rotate)
  })

  test('no HSTS over plain http; HSTS when PUBLIC_URL is https', async () => {
    expect((await server.request('/api/health')).headers.get('strict-transport-security')).toBeNull()
    expect(baseSecurityHeaders('http://ws.example.com')['strict-transport-security']).toBeUndefined()
    expect(baseSecurityHeaders('https://ws.example.com')['strict-transport-security']).toStartWith('max-age=')
  })
})
