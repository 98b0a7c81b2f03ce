// Which Host values decide external URLs: PUBLIC_URL wins; without it only loopback names and
// ALLOWED_HOSTS are trusted, an attacker's `Host: evil.example` never reaches install commands
// or the CLI's proxy URL, and the server says so once at start.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { startTestServer, type TestServer } from '../../test/support/server.ts'
import { isTrustedHost } from './public-url.ts'

let server: TestServer
let admin: string

beforeAll(async () => {
  server = await startTestServer({ env: { ALLOWED_HOSTS: 'ws.lan, 10.0.0.5:5000' } })
  admin = await server.login()
})
afterAll(() => server.stop())

function registerWithHost(host: string) {
  return server.app.handle(
    new Request(`http://${host}/api/remote/machines/register`, {
      method: 'POST',
      headers: { host, cookie: admin, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant_id: 1 }),
    }),
  )
}

describe('host trust', () => {
  test('an untrusted Host gets no install command naming it', async () => {
    const res = await registerWithHost('evil.example')
    expect(res.status).toBe(400)
    expect(await res.text()).not.toContain('evil.example/api')
  })

  test('loopback and listed hosts are used as given', async () => {
    for (const host of ['localhost:5000', '127.0.0.1:8080', 'ws.lan:5000', '10.0.0.5:5000']) {
      const res = await registerWithHost(host)
      expect(res.status).toBe(200)
      const body = (await res.json()) as { install: { bash: string } }
      expect(body.install.bash).toContain(`http://${host}/api/remote/agent/install.sh`)
    }
    expect((await registerWithHost('10.0.0.5:6000')).status).toBe(400)
  })

  test('the start-up log warns once that PUBLIC_URL is not set', () => {
    expect(server.logs.filter((line) => line.includes('PUBLIC_URL is not set'))).toHaveLength(1)
  })

  test('the trust rule itself', () => {
    const config = { allowedHosts: ['ws.lan'] }
    expect(isTrustedHost(config, 'localhost')).toBe(true)
    expect(isTrustedHost(config, 'app.localhost:3000')).toBe(true)
    expect(isTrustedHost(config, '127.1.2.3:5000')).toBe(true)
    expect(isTrustedHost(config, '[::1]:5000')).toBe(true)
    expect(isTrustedHost(config, 'WS.LAN:443')).toBe(true)
    expect(isTrustedHost(config, 'ws.lan.evil.example')).toBe(false)
    expect(isTrustedHost(config, 'localhost.evil.example')).toBe(false)
    expect(isTrustedHost(config, '127.0.0.1.evil.example')).toBe(false)
  })
})

describe('with PUBLIC_URL', () => {
  test('every external URL is PUBLIC_URL whatever the Host says; no warning', async () => {
    const pub = await startTestServer({ env: { PUBLIC_URL: 'https://ws.example.com' } })
    try {
      const cookie = await pub.login()
      const res = await pub.app.handle(
        new Request('http://evil.example/api/remote/machines/register', {
          method: 'POST',
          headers: { host: 'evil.example', cookie, 'content-type': 'application/json' },
          body: JSON.stringify({ tenant_id: 1 }),
        }),
      )
      expect(res.status).toBe(200)
      const body = (await res.json()) as { install: { bash: string } }
      expect(body.install.bash).toContain('https://ws.example.com/api/remote/agent/install.sh')
      expect(body.install.bash).not.toContain('evil.example')
      expect(pub.logs.some((line) => line.includes('PUBLIC_URL is not set'))).toBe(false)
    } finally {
      await pub.stop()
    }
  })
})
