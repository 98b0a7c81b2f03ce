// OpenID Connect sign-in with the operator's stricter settings, against a real provider on
// loopback: passwords off except for the break-glass administrator, first sign-in linked to
// the local user with the same verified e-mail, tenant from a claim, a required group.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { CookieJar, reserveOidcProvider, type TestProvider, walkProvider } from '../support/oidc-provider.ts'
import { ADMIN_PASSWORD, startTestServer, type TestServer } from '../support/server.ts'

let idp: TestProvider
let server: TestServer
let admin: string

beforeAll(async () => {
  idp = await reserveOidcProvider()
  server = await startTestServer({
    listen: true,
    env: idp.env({
      PASSWORD_LOGIN: 'break-glass-only',
      OIDC_LINK_BY_EMAIL: 'true',
      OIDC_TENANT_CLAIM: 'org',
      OIDC_REQUIRED_GROUP: 'ace-users',
    }),
  })
  idp.start(server.url)
  admin = await server.login('admin', ADMIN_PASSWORD)
  const tenant = await server.request('/api/tenants', {
    method: 'POST',
    cookie: admin,
    json: { name: 'acme' },
  })
  expect(tenant.status).toBe(201)
  const local = await server.request('/api/users', {
    method: 'POST',
    cookie: admin,
    json: { username: 'erin', password: 'erin-password', email: 'Erin@Example.com' },
  })
  expect(local.status).toBe(201)
  idp.accounts.set('erin-sub', {
    email: 'erin@example.com',
    email_verified: true,
    preferred_username: 'erin.sso',
    groups: ['ace-users'],
    org: 'acme',
  })
  idp.accounts.set('frank-sub', {
    email: 'frank@example.com',
    email_verified: true,
    preferred_username: 'frank',
    groups: ['ace-users'],
    org: 'acme',
  })
  idp.accounts.set('gina-sub', {
    email: 'gina@example.com',
    email_verified: true,
    groups: ['ace-users'],
    org: 'nowhere',
  })
  idp.accounts.set('hank-sub', {
    email: 'hank@example.com',
    email_verified: true,
    groups: ['others'],
    org: 'acme',
  })
  idp.accounts.set('ivy-sub', {
    email: 'admin@example.com',
    email_verified: true,
    groups: ['ace-users'],
    org: 'acme',
  })
}, 60_000)

afterAll(async () => {
  await server?.stop()
  await idp?.stop()
})

async function signIn(login: string) {
  const jar = new CookieJar()
  const back = await walkProvider(
    jar,
    `${server.url}/api/auth/oidc/login`,
    login,
    `${server.url}/api/auth/oidc/callback`,
  )
  const res = await jar.fetch(back)
  const me = await jar.fetch(`${server.url}/api/auth/me`)
  return {
    location: res.headers.get('location'),
    user: me.status === 200 ? ((await me.json()) as { user: Record<string, unknown> }).user : null,
  }
}

describe('passwords off except for the break-glass administrator', () => {
  test('the login page is told so', async () => {
    const res = await server.request('/api/auth/methods')
    expect(((await res.json()) as { password: unknown }).password).toEqual({ enabled: false })
  })

  test('a user with a correct password is refused with a reason; the break-glass admin signs in', async () => {
    const refused = await server.request('/api/auth/login', {
      method: 'POST',
      json: { username: 'erin', password: 'erin-password' },
    })
    expect(refused.status).toBe(403)
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe('password_login_disabled')
    const breakGlass = await server.request('/api/auth/login', {
      method: 'POST',
      json: { username: 'admin', password: ADMIN_PASSWORD },
    })
    expect(breakGlass.status).toBe(200)
  })

  test('another system administrator is not the break-glass account: refused too', async () => {
    const other = await server.request('/api/users', {
      method: 'POST',
      cookie: admin,
      json: { username: 'root2', password: 'root2-password', role: 'system_admin' },
    })
    expect(other.status).toBe(201)
    const root2 = await server.login('root2', 'root2-password').catch((e: Error) => e.message)
    // root2 is a system admin but not the named break-glass account.
    expect(String(root2)).toMatch(/403/)
  })
})

describe('first sign-in', () => {
  test('links to the local user with the same verified e-mail', async () => {
    const { location, user } = await signIn('erin-sub')
    expect(location).toBe('/workspace')
    expect(user).toMatchObject({ username: 'erin', tenant_id: 1 })
  })

  test('creates the user in the tenant its claim names', async () => {
    const { user } = await signIn('frank-sub')
    const tenants = (await (await server.request('/api/tenants', { cookie: admin })).json()) as {
      tenants: Array<{ id: number; name: string }>
    }
    const acme = tenants.tenants.find((t) => t.name === 'acme')!
    expect(user).toMatchObject({ username: 'frank', tenant_id: acme.id, role: 'user' })
  })

  test('a tenant that does not exist is refused', async () => {
    const { location, user } = await signIn('gina-sub')
    expect(location).toBe(`${server.url}/login?error=oidc_tenant_unknown`)
    expect(user).toBeNull()
  })

  test('a user outside the required group is refused', async () => {
    const { location, user } = await signIn('hank-sub')
    expect(location).toBe(`${server.url}/login?error=oidc_group_required`)
    expect(user).toBeNull()
  })

  test('never links to the break-glass administrator, whatever e-mail it has', async () => {
    const patched = await server.request('/api/users/1', {
      method: 'PATCH',
      cookie: admin,
      json: { email: 'admin@example.com' },
    })
    expect(patched.status).toBe(200)
    const { user } = await signIn('ivy-sub')
    expect(user?.id).not.toBe(1)
    expect(user?.role).toBe('user')
  })
})
