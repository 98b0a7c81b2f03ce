// OpenID Connect sign-in against a real provider (oidc-provider on loopback), over HTTP as a
// browser does it: our login redirect, the provider's login and consent pages, the callback.
// Every refusal lands on /login?error=<code> (the UI puts the code in words) and is audited.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import {
  CookieJar,
  OTHER_CLIENT_ID,
  OTHER_CLIENT_SECRET,
  OTHER_REDIRECT_URI,
  reserveOidcProvider,
  type TestProvider,
  walkProvider,
} from '../support/oidc-provider.ts'
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.ts'
import { waitUntil } from '../support/wait-until.ts'

let idp: TestProvider
let server: TestServer
let admin: string
let callback: string

beforeAll(async () => {
  idp = await reserveOidcProvider()
  server = await startTestServer({
    listen: true,
    env: idp.env({ OIDC_ALLOWED_EMAIL_DOMAINS: 'example.com', OIDC_ADMIN_GROUPS: 'ace-admins' }),
  })
  idp.start(server.url)
  callback = `${server.url}/api/auth/oidc/callback`
  idp.accounts.set('alice-sub', {
    email: 'alice@example.com',
    email_verified: true,
    name: 'Alice Example',
    preferred_username: 'alice',
    groups: ['developers'],
  })
  idp.accounts.set('olga-sub', {
    email: 'olga@example.com',
    email_verified: true,
    preferred_username: 'olga',
    groups: ['ace-admins'],
  })
  idp.accounts.set('mallory-sub', {
    email: 'mallory@elsewhere.test',
    email_verified: true,
    preferred_username: 'mallory',
  })
  idp.accounts.set('bob-sub', { email: 'bob@example.com', email_verified: true, preferred_username: 'bob' })
  idp.accounts.set('carol-sub', {
    email: 'carol@example.com',
    email_verified: true,
    preferred_username: 'carol',
  })
  idp.accounts.set('dave-sub', {
    email: 'dave@example.com',
    email_verified: true,
    preferred_username: 'dave',
  })
  admin = await server.login('admin', ADMIN_PASSWORD)
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await idp?.stop()
})

const startUrl = (next = '/workspace') => `${server.url}/api/auth/oidc/login?next=${encodeURIComponent(next)}`

/** Our redirect, the provider's pages, up to (not into) our callback. */
async function toCallback(jar: CookieJar, login: string, next?: string) {
  return walkProvider(jar, startUrl(next), login, callback)
}

/** Delivers the provider's answer to our callback; returns where the browser is sent. */
async function deliver(jar: CookieJar, url: URL) {
  const res = await jar.fetch(url)
  if (res.status !== 302) throw new Error(`callback answered ${res.status}: ${await res.text()}`)
  return res.headers.get('location')!
}

async function me(jar: CookieJar) {
  const res = await jar.fetch(`${server.url}/api/auth/me`)
  return { status: res.status, body: (await res.json()) as { user?: Record<string, unknown> } }
}

async function audit(event: string) {
  const res = await server.request(`/api/audit?event=${encodeURIComponent(event)}&limit=100`, {
    cookie: admin,
  })
  const body = (await res.json()) as { entries: Array<{ details: Record<string, unknown>; target: unknown }> }
  return body.entries
}

async function users() {
  const res = await server.request('/api/users', { cookie: admin })
  return ((await res.json()) as { users: Array<{ username: string; email: string | null; role: string }> })
    .users
}

describe('OpenID Connect sign-in', () => {
  test('the login page is told about the provider', async () => {
    const res = await server.request('/api/auth/methods')
    expect(await res.json()).toEqual({
      password: { enabled: true },
      oidc: { name: 'Test IdP', login_url: '/api/auth/oidc/login' },
    })
  })

  test('the first sign-in creates the user from the claims and lands where it started', async () => {
    const jar = new CookieJar()
    const pages: string[] = []
    const back = await walkProvider(jar, startUrl('/workspace?machine=7'), 'alice-sub', callback, pages)
    // The provider's real pages were shown: its login form, then its consent form.
    expect(pages).toEqual(['login', 'consent'])
    expect(back.searchParams.get('code')).toBeTruthy()
    expect(await deliver(jar, back)).toBe('/workspace?machine=7')
    const { status, body } = await me(jar)
    expect(status).toBe(200)
    expect(body.user).toMatchObject({
      username: 'alice',
      email: 'alice@example.com',
      display_name: 'Alice Example',
      role: 'user',
      tenant_id: 1,
    })
    const logins = await audit('auth.login')
    expect(logins.some((e) => e.details.method === 'oidc' && e.details.account === 'created')).toBe(true)
    const created = await audit('user.create')
    expect(created.some((e) => e.details.method === 'oidc' && e.details.username === 'alice')).toBe(true)

    // The second sign-in is the same user, not a new one.
    const again = new CookieJar()
    expect(await deliver(again, await toCallback(again, 'alice-sub'))).toBe('/workspace')
    expect((await me(again)).body.user?.id).toBe(body.user?.id)
    expect((await users()).filter((u) => u.username.startsWith('alice'))).toHaveLength(1)
  })

  test('a member of an admin group is created as a system administrator', async () => {
    const jar = new CookieJar()
    await deliver(jar, await toCallback(jar, 'olga-sub'))
    expect((await me(jar)).body.user).toMatchObject({ username: 'olga', role: 'system_admin' })
  })

  test('logout ends our session and hands the browser the provider logout, which ends that one too', async () => {
    const jar = new CookieJar()
    await deliver(jar, await toCallback(jar, 'bob-sub'))
    expect((await me(jar)).status).toBe(200)
    const res = await jar.fetch(`${server.url}/api/auth/logout`, { method: 'POST' })
    expect(res.status).toBe(200)
    const { end_session_url } = (await res.json()) as { end_session_url: string }
    const end = new URL(end_session_url)
    expect(`${end.origin}${end.pathname}`).toBe(`${idp.issuer}/session/end`)
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe(`${server.url}/login`)
    expect(end.searchParams.get('id_token_hint')).toBeTruthy()
    expect((await me(jar)).status).toBe(401)

    // The provider asks to confirm, then sends the browser back to our login page.
    const afterLogout = await walkProvider(jar, end_session_url, 'bob-sub', `${server.url}/login`)
    expect(afterLogout.pathname).toBe('/login')
    // Signed out there as well: the next sign-in shows the provider's login page again.
    const pages: string[] = []
    await walkProvider(jar, startUrl(), 'bob-sub', callback, pages)
    expect(pages[0]).toBe('login')
    const logouts = await audit('auth.logout')
    expect(logouts.some((e) => e.details.provider_logout === true)).toBe(true)
  })

  test('a replayed state is refused, even with the browser cookie that started it', async () => {
    const jar = new CookieJar()
    const back = await toCallback(jar, 'carol-sub')
    const stateCookie = jar.cookies.get('openace_oidc')!
    expect(stateCookie).toBeTruthy()
    expect(await deliver(jar, back)).toBe('/workspace')

    const replay = new CookieJar()
    replay.cookies.set('openace_oidc', stateCookie)
    expect(await deliver(replay, back)).toBe(`${server.url}/login?error=oidc_state_invalid`)
    expect((await me(replay)).status).toBe(401)
    // A callback in a browser that never started a sign-in (login CSRF) is refused as well.
    const stranger = new CookieJar()
    expect(await deliver(stranger, await toCallback(new CookieJar(), 'carol-sub'))).toBe(
      `${server.url}/login?error=oidc_state_invalid`,
    )
    const refusals = await audit('auth.oidc.refused')
    expect(refusals.map((e) => e.details.reason)).toContain('the state is unknown, expired or already used')
    expect(refusals.map((e) => e.details.reason)).toContain('this browser started no sign-in')
  })

  test('a code already used at the provider is refused', async () => {
    const jar = new CookieJar()
    const back = await toCallback(jar, 'dave-sub')
    const code = await idp.provider.AuthorizationCode.find(back.searchParams.get('code')!)
    await code!.consume()
    expect(await deliver(jar, back)).toBe(`${server.url}/login?error=oidc_code_invalid`)
    expect((await me(jar)).status).toBe(401)
  })

  test('an expired code is refused', async () => {
    idp.setCodeTtl(1)
    try {
      const jar = new CookieJar()
      const back = await toCallback(jar, 'dave-sub')
      const code = back.searchParams.get('code')!
      // The provider itself no longer finds the code once it has expired.
      await waitUntil(async () => ((await idp.provider.AuthorizationCode.find(code)) ? undefined : true), {
        what: 'the code to expire',
        timeoutMs: 30_000,
      })
      expect(await deliver(jar, back)).toBe(`${server.url}/login?error=oidc_code_invalid`)
      expect((await me(jar)).status).toBe(401)
    } finally {
      idp.setCodeTtl(60)
    }
  })

  test('an ID token issued to another client (wrong audience) is refused', async () => {
    const jar = new CookieJar()
    const ours = await jar.fetch(startUrl())
    const authorize = new URL(ours.headers.get('location')!)
    const back = await walkProvider(jar, authorize.href, 'dave-sub', callback)

    // The other app's own sign-in, by the same person, with the same nonce: a genuine, signed
    // ID token for audience other-app, which a tampered token answer hands to us.
    const verifier = crypto.randomUUID() + crypto.randomUUID()
    const challenge = new Bun.CryptoHasher('sha256').update(verifier).digest('base64url')
    const other = new URL(`${idp.issuer}/auth`)
    other.search = new URLSearchParams({
      client_id: OTHER_CLIENT_ID,
      redirect_uri: OTHER_REDIRECT_URI,
      response_type: 'code',
      scope: 'openid email',
      state: 'other-state',
      nonce: authorize.searchParams.get('nonce')!,
      code_challenge: challenge,
      code_challenge_method: 'S256',
    }).toString()
    const otherBack = await walkProvider(jar, other.href, 'dave-sub', OTHER_REDIRECT_URI)
    const tokenRes = await fetch(`${idp.issuer}/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${btoa(`${OTHER_CLIENT_ID}:${OTHER_CLIENT_SECRET}`)}`,
      },
      body: new URLSearchParams({
        grant_type: 'authorization_code',
        code: otherBack.searchParams.get('code')!,
        redirect_uri: OTHER_REDIRECT_URI,
        code_verifier: verifier,
      }),
    })
    expect(tokenRes.status).toBe(200)
    const otherTokens = (await tokenRes.json()) as { id_token: string }
    const aud = JSON.parse(Buffer.from(otherTokens.id_token.split('.')[1]!, 'base64url').toString()).aud
    expect(aud).toBe(OTHER_CLIENT_ID)

    idp.replaceNextTokenResponse(otherTokens)
    expect(await deliver(jar, back)).toBe(`${server.url}/login?error=oidc_token_invalid`)
    expect((await me(jar)).status).toBe(401)
    const refusals = await audit('auth.oidc.refused')
    expect(refusals.map((e) => e.details.reason).join('\n')).toMatch(/aud/)
  })

  test('a user outside the allowed e-mail domains is refused and not created', async () => {
    const jar = new CookieJar()
    expect(await deliver(jar, await toCallback(jar, 'mallory-sub'))).toBe(
      `${server.url}/login?error=oidc_domain_not_allowed`,
    )
    expect((await me(jar)).status).toBe(401)
    expect((await users()).some((u) => u.username === 'mallory')).toBe(false)
  })

  test('the user cancelling at the provider is a clear refusal', async () => {
    const jar = new CookieJar()
    const ours = await jar.fetch(startUrl())
    const authorize = new URL(ours.headers.get('location')!)
    // What the provider sends back when the person declines.
    const declined = new URL(callback)
    declined.search = new URLSearchParams({
      error: 'access_denied',
      error_description: 'End-User aborted interaction',
      state: authorize.searchParams.get('state')!,
      iss: idp.issuer,
    }).toString()
    expect(await deliver(jar, declined)).toBe(`${server.url}/login?error=oidc_denied`)
  })
})

describe('the state cookie', () => {
  test('is signed: a forged one (the bare state) is refused like a missing one', async () => {
    const jar = new CookieJar()
    const back = await toCallback(jar, 'carol-sub')
    const signed = jar.cookies.get('openace_oidc')!
    const state = back.searchParams.get('state')!
    expect(decodeURIComponent(signed)).not.toBe(state)
    jar.cookies.set('openace_oidc', state)
    expect(await deliver(jar, back)).toBe(`${server.url}/login?error=oidc_state_invalid`)
  })
})

describe('a provider that cannot be reached', () => {
  test('the sign-in button lands on the login page saying so, and the next try discovers again', async () => {
    const down = await reserveOidcProvider()
    const lone = await startTestServer({ listen: true, env: down.env() })
    try {
      // Listening but not started: discovery answers 503, as a provider in maintenance does.
      const jar = new CookieJar()
      const res = await jar.fetch(`${lone.url}/api/auth/oidc/login`)
      expect(res.status).toBe(302)
      expect(res.headers.get('location')).toBe(`${lone.url}/login?error=oidc_unavailable`)
      // A failed discovery is not kept: once the provider is up, signing in works.
      down.start(lone.url)
      down.accounts.set('alice-sub', { email: 'alice@example.com', email_verified: true })
      const back = await walkProvider(
        jar,
        `${lone.url}/api/auth/oidc/login`,
        'alice-sub',
        `${lone.url}/api/auth/oidc/callback`,
      )
      const done = await jar.fetch(back)
      expect(done.headers.get('location')).toBe('/workspace')
    } finally {
      await lone.stop()
      await down.stop()
    }
  })
})
