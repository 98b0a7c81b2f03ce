import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { eq } from 'drizzle-orm'
import {
  ADMIN_PASSWORD,
  cookieFrom,
  createUser,
  startTestServer,
  type TestServer,
} from '../../test/support/server.ts'
import { authSessions } from '../db/schema/index.ts'
import { hashToken, SESSION_COOKIE } from './service.ts'

let server: TestServer

beforeAll(async () => {
  server = await startTestServer({
    env: {
      LOGIN_MAX_FAILURES_PER_USER_IP: '3',
      LOGIN_MAX_FAILURES_PER_IP: '6',
      LOGIN_USER_BACKOFF_AFTER: '5',
      LOGIN_USER_BACKOFF_MAX_MS: '300',
      TRUST_PROXY: 'true',
    },
  })
})
afterAll(() => server.stop())

const login = (username: string, password: string, ip = '10.0.0.1') =>
  server.request('/api/auth/login', {
    method: 'POST',
    json: { username, password },
    headers: { 'x-forwarded-for': ip },
  })

/** The raw session token of a cookie header value. */
function sessionToken(cookie: string): string {
  return decodeURIComponent(cookie.split('=').slice(1).join('='))
}

describe('login', () => {
  test('the seed admin logs in and gets an HttpOnly, SameSite=Lax session cookie', async () => {
    const res = await login('admin', ADMIN_PASSWORD)
    expect(res.status).toBe(200)
    const body = (await res.json()) as { user: { username: string; role: string } }
    expect(body.user).toMatchObject({ username: 'admin', role: 'system_admin' })
    expect(body.user).not.toHaveProperty('password_hash')
    const setCookie = res.headers.get('set-cookie')!
    expect(setCookie).toContain(`${SESSION_COOKIE}=`)
    expect(setCookie).toMatch(/HttpOnly/i)
    expect(setCookie).toMatch(/SameSite=Lax/i)
    expect(setCookie).not.toMatch(/Secure/i)
    const me = await server.request('/api/auth/me', { cookie: cookieFrom(res) })
    expect(me.status).toBe(200)
    expect(((await me.json()) as { user: { username: string } }).user.username).toBe('admin')
  })

  test('username matching is case-insensitive', async () => {
    expect((await login('ADMIN', ADMIN_PASSWORD, '10.0.0.9')).status).toBe(200)
  })

  test('a bad password and an unknown user get the same answer', async () => {
    const bad = await login('admin', 'wrong-password', '10.0.0.2')
    const unknown = await login('nobody-here', 'wrong-password', '10.0.0.3')
    expect(bad.status).toBe(401)
    expect(unknown.status).toBe(401)
    expect(await bad.json()).toEqual(await unknown.json())
    expect(bad.headers.get('set-cookie')).toBeNull()
  })

  test('a missing field is a validation error naming it', async () => {
    const res = await server.request('/api/auth/login', { method: 'POST', json: { username: 'admin' } })
    expect(res.status).toBe(400)
    const body = (await res.json()) as { error: { field: string; type: string; message: string } }
    expect(body.error.type).toBe('validation_error')
    expect(body.error.field).toBe('password')
    expect(body.error.message).toContain('password')
  })

  test('malformed JSON is a clear 400', async () => {
    const res = await server.request('/api/auth/login', {
      method: 'POST',
      body: '{nope',
      headers: { 'content-type': 'application/json' },
    })
    expect(res.status).toBe(400)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('invalid_json')
  })
})

describe('rate limiting', () => {
  test('per (username, address): that address gets 429 with Retry-After, the right password from another passes', async () => {
    const admin = await server.login()
    await createUser(server, admin, 'carol')
    for (let i = 0; i < 3; i++) expect((await login('carol', 'bad-password', '10.1.0.1')).status).toBe(401)
    const limited = await login('carol', 'carol-password', '10.1.0.1')
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(((await limited.json()) as { error: { type: string } }).error.type).toBe('rate_limited')
    expect((await login('carol', 'carol-password', '10.1.0.99')).status).toBe(200)
  })

  test('failures from many addresses slow a username down but never lock it: the right password passes', async () => {
    const admin = await server.login()
    await createUser(server, admin, 'erin')
    // Two failures each from four addresses: no address reaches its limit, the username passes 5.
    for (let i = 0; i < 8; i++)
      expect((await login('erin', 'bad-password', `10.4.0.${i % 4}`)).status).toBe(401)
    const started = performance.now()
    const ok = await login('erin', 'erin-password', '10.4.1.1')
    expect(ok.status).toBe(200)
    expect(performance.now() - started).toBeGreaterThanOrEqual(250)
  })

  test('per IP: one address guessing many usernames is stopped', async () => {
    for (let i = 0; i < 6; i++) expect((await login(`ghost${i}`, 'x', '10.2.0.1')).status).toBe(401)
    expect((await login('admin', ADMIN_PASSWORD, '10.2.0.1')).status).toBe(429)
    expect((await login('admin', ADMIN_PASSWORD, '10.2.0.2')).status).toBe(200)
  })
})

describe('sessions', () => {
  test('logout invalidates the cookie server-side', async () => {
    const cookie = await server.login()
    const out = await server.request('/api/auth/logout', { method: 'POST', cookie })
    expect(out.status).toBe(200)
    expect(out.headers.get('set-cookie')).toContain(`${SESSION_COOKIE}=`)
    // Replaying the old cookie must fail: the server-side row is gone.
    expect((await server.request('/api/auth/me', { cookie })).status).toBe(401)
  })

  test('an expired session is refused', async () => {
    const cookie = await server.login()
    await server.ctx.db
      .update(authSessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(authSessions.tokenHash, hashToken(sessionToken(cookie))))
    const res = await server.request('/api/auth/me', { cookie })
    expect(res.status).toBe(401)
  })

  test('a tampered cookie is refused', async () => {
    const cookie = await server.login()
    const tampered = cookie.replace(/=(.)/, (_m, c: string) => `=${c === 'A' ? 'B' : 'A'}`)
    expect((await server.request('/api/auth/me', { cookie: tampered })).status).toBe(401)
  })

  test('no cookie: 401 JSON', async () => {
    const res = await server.request('/api/auth/me')
    expect(res.status).toBe(401)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('unauthorized')
  })

  test('changing the password ends other sessions and needs the current one', async () => {
    const admin = await server.login()
    const dave = await createUser(server, admin, 'dave')
    const other = await server.login('dave', 'dave-password')
    const wrong = await server.request('/api/auth/password', {
      method: 'POST',
      cookie: dave.cookie,
      json: { current_password: 'nope', new_password: 'another-password' },
    })
    expect(wrong.status).toBe(400)
    expect(((await wrong.json()) as { error: { field: string } }).error.field).toBe('current_password')
    const ok = await server.request('/api/auth/password', {
      method: 'POST',
      cookie: dave.cookie,
      json: { current_password: 'dave-password', new_password: 'another-password' },
    })
    expect(ok.status).toBe(200)
    expect((await server.request('/api/auth/me', { cookie: dave.cookie })).status).toBe(200)
    expect((await server.request('/api/auth/me', { cookie: other })).status).toBe(401)
    expect((await login('dave', 'another-password', '10.3.0.1')).status).toBe(200)
  })
})

describe('CSRF', () => {
  test('a cookie-authenticated change from a foreign Origin is refused', async () => {
    const cookie = await server.login()
    const res = await server.request('/api/users', {
      method: 'POST',
      cookie,
      headers: { origin: 'https://evil.example' },
      json: { username: 'mallory', password: 'mallory-password' },
    })
    expect(res.status).toBe(403)
    expect(((await res.json()) as { error: { type: string } }).error.type).toBe('csrf_rejected')
    const list = (await (await server.request('/api/users', { cookie })).json()) as {
      users: Array<{ username: string }>
    }
    expect(list.users.map((u) => u.username)).not.toContain('mallory')
  })

  test('cross-site fetch metadata is refused too; same origin and no Origin (curl) pass', async () => {
    const cookie = await server.login()
    const crossSite = await server.request('/api/auth/logout', {
      method: 'POST',
      cookie,
      headers: { 'sec-fetch-site': 'cross-site' },
    })
    expect(crossSite.status).toBe(403)
    const same = await server.request('/api/auth/password', {
      method: 'POST',
      cookie,
      headers: { origin: 'http://localhost' },
      json: { current_password: 'x', new_password: 'yyyyyyyy' },
    })
    expect(same.status).toBe(400) // reached the handler: wrong current password, not a CSRF refusal
  })
})

describe('a cookie that names no session', () => {
  const stale = `${SESSION_COOKIE}=x`

  test('login ignores it and replaces it', async () => {
    const res = await server.request('/api/auth/login', {
      method: 'POST',
      cookie: stale,
      json: { username: 'admin', password: ADMIN_PASSWORD },
      headers: { 'x-forwarded-for': '10.5.0.1' },
    })
    expect(res.status).toBe(200)
    const fresh = cookieFrom(res)
    expect(fresh).not.toBe(stale)
    expect((await server.request('/api/auth/me', { cookie: fresh })).status).toBe(200)
  })

  test('logout clears it instead of answering 401', async () => {
    const res = await server.request('/api/auth/logout', { method: 'POST', cookie: stale })
    expect(res.status).toBe(200)
    expect(res.headers.get('set-cookie')).toMatch(
      new RegExp(`^${SESSION_COOKIE}=;.*(Max-Age=0|Expires=)`, 'i'),
    )
  })

  test('a cookie signed under an earlier secret (name=value.signature) is just unknown', async () => {
    const res = await server.request('/api/auth/me', { cookie: `${SESSION_COOKIE}=abc.def` })
    expect(res.status).toBe(401)
  })
})

describe('login CSRF', () => {
  test('a cross-site login is refused and sets no cookie, form-encoded or JSON', async () => {
    const form = await server.request('/api/auth/login', {
      method: 'POST',
      headers: { origin: 'https://evil.example', 'content-type': 'application/x-www-form-urlencoded' },
      body: `username=admin&password=${ADMIN_PASSWORD}`,
    })
    expect(form.status).toBe(415)
    expect(form.headers.getSetCookie()).toEqual([])
    const json = await server.request('/api/auth/login', {
      method: 'POST',
      headers: { origin: 'https://evil.example' },
      json: { username: 'admin', password: ADMIN_PASSWORD },
    })
    expect(json.status).toBe(403)
    expect(json.headers.getSetCookie()).toEqual([])
    const fetchSite = await server.request('/api/auth/login', {
      method: 'POST',
      headers: { 'sec-fetch-site': 'cross-site' },
      json: { username: 'admin', password: ADMIN_PASSWORD },
    })
    expect(fetchSite.status).toBe(403)
  })

  test('an untrusted Host makes its own Origin no proof of same origin', async () => {
    const res = await server.app.handle(
      new Request('http://evil.example/api/auth/login', {
        method: 'POST',
        headers: { host: 'evil.example', origin: 'http://evil.example', 'content-type': 'application/json' },
        body: JSON.stringify({ username: 'admin', password: ADMIN_PASSWORD }),
      }),
    )
    expect(res.status).toBe(403)
  })
})
