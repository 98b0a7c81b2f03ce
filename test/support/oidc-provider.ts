// A real OpenID provider for tests (`oidc-provider`, the certified Node implementation), on a
// loopback port, with its own login and consent pages (devInteractions: any password is
// accepted for a known account). Two clients: ours, and another app's, whose genuine tokens the
// wrong-audience test slips into our token exchange. Also a small browser-like cookie jar that
// walks the provider's pages over HTTP.
import { generateKeyPairSync } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import Provider from 'oidc-provider'

export const OIDC_CLIENT_ID = 'open-ace'
export const OIDC_CLIENT_SECRET = 'open-ace-test-client-secret-0123456789abcdef'
export const OTHER_CLIENT_ID = 'other-app'
export const OTHER_CLIENT_SECRET = 'other-app-test-client-secret-0123456789abcdef'
/** Never fetched: the other app's code is taken off the redirect's Location header. */
export const OTHER_REDIRECT_URI = 'http://127.0.0.1:9/other-app/callback'
export const OIDC_SCOPES = 'openid email profile groups'

export interface TestAccount {
  email?: string
  email_verified?: boolean
  name?: string
  preferred_username?: string
  groups?: string[]
  org?: string
}

export interface TestProvider {
  issuer: string
  provider: Provider
  accounts: Map<string, TestAccount>
  /** Lifetime of authorization codes from now on, in seconds. */
  setCodeTtl(seconds: number): void
  /** The next call to the token endpoint gets this body instead of the provider's answer. */
  replaceNextTokenResponse(body: unknown): void
  /** The environment that points our server at this provider. */
  env(extra?: Record<string, string>): Record<string, string>
  /** Registers our server's callback and logout addresses and starts answering. */
  start(serverUrl: string): void
  stop(): Promise<void>
}

/** Listens first (so the issuer URL is known before our server starts), answers after start(). */
export async function reserveOidcProvider(): Promise<TestProvider> {
  let handler: ((req: IncomingMessage, res: ServerResponse) => void) | null = null
  let replacement: unknown
  let codeTtl = 60
  const accounts = new Map<string, TestAccount>()
  const http = createServer((req, res) => {
    if (replacement !== undefined && req.method === 'POST' && req.url?.startsWith('/token')) {
      const body = JSON.stringify(replacement)
      replacement = undefined
      req.resume()
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        res.end(body)
      })
      return
    }
    if (!handler) {
      res.writeHead(503).end('provider not started')
      return
    }
    handler(req, res)
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(http.address() as AddressInfo).port}`
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'test-key', use: 'sig', alg: 'RS256' }
  let provider: Provider | undefined

  return {
    issuer,
    accounts,
    get provider() {
      if (!provider) throw new Error('the test provider has not been started')
      return provider
    },
    setCodeTtl(seconds) {
      codeTtl = seconds
    },
    replaceNextTokenResponse(body) {
      replacement = body
    },
    env(extra = {}) {
      return {
        OIDC_ISSUER_URL: issuer,
        OIDC_CLIENT_ID,
        OIDC_CLIENT_SECRET,
        OIDC_PROVIDER_NAME: 'Test IdP',
        OIDC_SCOPES,
        ...extra,
      }
    },
    start(serverUrl) {
      provider = new Provider(issuer, {
        clients: [
          {
            client_id: OIDC_CLIENT_ID,
            client_secret: OIDC_CLIENT_SECRET,
            redirect_uris: [`${serverUrl}/api/auth/oidc/callback`],
            post_logout_redirect_uris: [`${serverUrl}/login`],
          },
          {
            client_id: OTHER_CLIENT_ID,
            client_secret: OTHER_CLIENT_SECRET,
            redirect_uris: [OTHER_REDIRECT_URI],
          },
        ],
        jwks: { keys: [jwk] },
        cookies: { keys: ['test-provider-cookie-key'] },
        pkce: { required: () => true },
        // Expiry exactly as set, so the expired-code test waits for no tolerance.
        clockTolerance: 0,
        scopes: ['openid', 'email', 'profile', 'groups'],
        claims: {
          openid: ['sub'],
          email: ['email', 'email_verified'],
          profile: ['name', 'preferred_username'],
          groups: ['groups', 'org'],
        },
        findAccount: async (_ctx, id) => {
          const account = accounts.get(id)
          if (!account) return undefined
          return { accountId: id, claims: async () => ({ sub: id, ...account }) }
        },
        ttl: {
          AuthorizationCode: () => codeTtl,
          AccessToken: 3600,
          IdToken: 3600,
          Grant: 3600,
          Interaction: 3600,
          Session: 3600,
        },
      })
      handler = provider.callback()
    },
    async stop() {
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    },
  }
}

/** Cookies by name, as a browser keeps them for 127.0.0.1 (shared across ports, as browsers do). */
export class CookieJar {
  readonly cookies = new Map<string, string>()

  header(): string {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ')
  }

  async fetch(url: string | URL, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers)
    if (this.cookies.size) headers.set('cookie', this.header())
    const res = await fetch(url, { ...init, headers, redirect: 'manual' })
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';')
      const at = pair!.indexOf('=')
      const name = pair!.slice(0, at).trim()
      const value = pair!.slice(at + 1).trim()
      const expired = attributes.some((a) => {
        const [k, v] = a.trim().split('=')
        return (
          (k?.toLowerCase() === 'max-age' && Number(v) <= 0) ||
          (k?.toLowerCase() === 'expires' && new Date(v!).getTime() < Date.now())
        )
      })
      if (expired || value === '') this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return res
  }
}

const formAction = (html: string) => html.match(/<form[^>]*action="([^"]+)"/)?.[1]?.replaceAll('&amp;', '&')
/** What submitting the page's form sends: its hidden inputs and its first named button. */
function formFields(html: string): Record<string, string> {
  const fields = Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
  )
  const button = html.match(/<button[^>]*>/)?.[0] ?? ''
  const name = button.match(/name="([^"]+)"/)?.[1]
  if (name) fields[name] = button.match(/value="([^"]*)"/)?.[1] ?? ''
  return fields
}

/**
 * Follows redirects from `url` like a browser, signing in as `login` on the provider's login
 * page and confirming its consent page, until a redirect leaves for `stopAt` (a URL prefix);
 * returns that URL without fetching it. `pages` records which provider pages were shown.
 */
export async function walkProvider(
  jar: CookieJar,
  url: string,
  login: string,
  stopAt: string,
  pages: string[] = [],
): Promise<URL> {
  let next = new URL(url)
  for (let step = 0; step < 20; step++) {
    if (next.href.startsWith(stopAt)) return next
    const res = await jar.fetch(next)
    const location = res.headers.get('location')
    if (location) {
      await res.body?.cancel()
      next = new URL(location, next)
      continue
    }
    const html = await res.text()
    if (res.status !== 200) throw new Error(`provider page ${next.href}: ${res.status} ${html.slice(0, 300)}`)
    const action = formAction(html)
    if (!action) throw new Error(`provider page without a form at ${next.href}: ${html.slice(0, 300)}`)
    const fields = formFields(html)
    pages.push(fields.prompt ?? 'form')
    const body = new URLSearchParams(fields)
    if (fields.prompt === 'login') {
      body.set('login', login)
      body.set('password', 'any password')
    }
    const posted = await jar.fetch(new URL(action, next), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
    })
    await posted.body?.cancel()
    const to = posted.headers.get('location')
    if (!to) throw new Error(`provider form at ${next.href} answered ${posted.status} without a redirect`)
    next = new URL(to, next)
  }
  throw new Error(`too many redirects walking the provider from ${url}`)
}
