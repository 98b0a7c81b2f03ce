// OpenID Connect sign-in: GET /api/auth/methods (what the login page offers), GET
// /api/auth/oidc/login (to the provider) and GET /api/auth/oidc/callback (back from it). Both
// browser routes answer with redirects: a refusal lands on /login?error=<code>, which the UI
// puts in words. The browser's half of the state is a signed, short-lived, HttpOnly cookie,
// signed and checked with Elysia's own cookie signing (signCookie/unsignCookie, the app's cookie
// secret) in the handlers rather than by a cookie schema: a schema's failed signature check
// would be the app's generic 401, where the browser needs the login page with a reason.
import { Elysia, t } from 'elysia'
import { signCookie, unsignCookie } from 'elysia/utils'
import type { ProviderLogoutUrl } from '../auth/index.ts'
import { SESSION_COOKIE } from '../auth/service.ts'
import { secureCookies, setSessionCookie } from '../auth/session-cookie.ts'
import type { AppContext } from '../context/index.ts'
import { notFound } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { publicBaseUrl, trustedBaseUrl } from '../http/public-url.ts'
import { documented } from '../http/schema.ts'
import { cookieSigningSecret } from '../secrets.ts'
import { OidcRefusal } from './refusal.ts'
import { beginSignIn, finishSignIn, providerLogoutUrl, SIGN_IN_TTL_SECONDS } from './service.ts'

export const STATE_COOKIE = 'openace_oidc'
const STATE_COOKIE_PATH = '/api/auth/oidc'

const found = (location: string) =>
  new Response(null, { status: 302, headers: { location, 'cache-control': 'no-store' } })

export const AuthMethods = t.Object({
  password: t.Object({
    /** false: only the break-glass administrator may use a password. */
    enabled: t.Boolean(),
  }),
  oidc: t.Nullable(t.Object({ name: t.String(), login_url: t.String() })),
})

/** A browser redirect in the OpenAPI document (no body; where to is the Location header). */
const redirect = (to: string) =>
  documented(
    302,
    `Found: redirects ${to}`,
    {},
    { location: t.String({ description: 'Where the browser goes next' }) },
  )

export function oidcRoutes(ctx: AppContext) {
  const settings = ctx.config.oidc
  const secure = secureCookies(ctx)
  const secret = cookieSigningSecret(ctx.config)
  return new Elysia({ name: 'oidc', seed: ctx.id, prefix: '/api/auth' })
    .get(
      '/methods',
      () => ({
        password: { enabled: ctx.config.passwordLogin.mode === 'enabled' },
        oidc: settings ? { name: settings.providerName, login_url: '/api/auth/oidc/login' } : null,
      }),
      { response: AuthMethods, detail: { summary: 'How one may sign in here (for the login page)' } },
    )
    .get(
      '/oidc/login',
      async ({ query, request, cookie }) => {
        if (!settings) throw notFound('OpenID Connect sign-in')
        const base = publicBaseUrl(ctx.config, request)
        try {
          const { redirectTo, state } = await beginSignIn(ctx, settings, base, query.next ?? '')
          cookie[STATE_COOKIE]!.set({
            value: await signCookie(state, secret),
            httpOnly: true,
            sameSite: 'lax',
            secure,
            path: STATE_COOKIE_PATH,
            maxAge: SIGN_IN_TTL_SECONDS,
          })
          return found(redirectTo)
        } catch (error) {
          return refused(error, request, null)
        }
      },
      {
        query: t.Object({ next: t.Optional(t.String({ maxLength: 2048 })) }),
        detail: {
          summary: 'Start an OpenID Connect sign-in: redirects to the provider',
          responses: redirect('to the provider, or to /login?error=<code> on a refusal'),
        },
      },
    )
    .get(
      '/oidc/callback',
      async ({ query, request, cookie, server }) => {
        if (!settings) throw notFound('OpenID Connect sign-in')
        const ip = clientIp(request, server, ctx.config.trustProxy)
        const signed = cookie[STATE_COOKIE]!.value
        // Whatever happens next, this browser's sign-in attempt is spent.
        cookie[STATE_COOKIE]!.set({ value: '', path: STATE_COOKIE_PATH, maxAge: 0 })
        try {
          const cookieState = typeof signed === 'string' ? await unsignCookie(signed, secret) : undefined
          if (cookieState === false) throw new OidcRefusal('oidc_state_invalid', 'the state cookie is forged')
          const { session, nextPath } = await finishSignIn(
            ctx,
            settings,
            {
              baseUrl: publicBaseUrl(ctx.config, request),
              search: new URL(request.url).search,
              state: query.state,
              cookieState,
            },
            { ip, userAgent: request.headers.get('user-agent') },
          )
          setSessionCookie(ctx, cookie[SESSION_COOKIE]!, session)
          return found(nextPath)
        } catch (error) {
          return refused(error, request, ip)
        }
      },
      {
        // The provider's answer is read by openid-client from the URL; only state is ours.
        query: t.Object({ state: t.Optional(t.String({ maxLength: 512 })) }, { additionalProperties: true }),
        detail: {
          summary: 'Where the provider sends the browser back: signs in, then redirects',
          responses: redirect('to the page asked for (next), or to /login?error=<code> on a refusal'),
        },
      },
    )

  async function refused(error: unknown, request: Request, ip: string | null) {
    if (!(error instanceof OidcRefusal)) throw error
    ctx.log.warn('OpenID Connect sign-in refused', { code: error.code, reason: error.reason })
    await ctx.audit(
      OIDC_SIGN_IN_REFUSED,
      { type: 'anonymous', ip },
      null,
      { code: error.code, reason: error.reason },
      { outcome: 'denied' },
    )
    const base = trustedBaseUrl(ctx.config, request) ?? ''
    return found(`${base}/login?error=${error.code}`)
  }
}

export const OIDC_SIGN_IN_REFUSED = 'auth.oidc.refused'

/** auth/'s logout hook: the provider's logout URL for an OpenID Connect session. */
export function oidcLogoutUrl(ctx: AppContext): ProviderLogoutUrl | undefined {
  const settings = ctx.config.oidc
  if (!settings) return undefined
  return async (idToken, request) => {
    const base = trustedBaseUrl(ctx.config, request)
    return base ? providerLogoutUrl(ctx, settings, idToken, base) : null
  }
}
