// /api/auth: login, logout, the current user, and changing one's own password.
import { Elysia, t } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { badRequest } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { OkAnswer } from '../http/schema.ts'
import { assertSameOrigin, authGuard, userActor } from './guard.ts'
import { ChangePasswordBody, LoginBody, PublicUser, UserAnswer } from './model.ts'
import {
  changePassword,
  login,
  logout,
  resolveSession,
  SESSION_COOKIE,
  startExpiredSessionPurge,
} from './service.ts'
import { setSessionCookie } from './session-cookie.ts'
import { bearerToken } from './tokens.ts'
import { publicUser } from './users.ts'

/** A personal access token cannot end a browser session or change the password it does not know. */
const browserSessionOnly = (what: string) =>
  badRequest(`${what} needs a browser session; revoke a token with DELETE /api/tokens/{id}`)

/** Where the browser goes to end its sign-in at the identity provider too (RP-initiated logout). */
export type ProviderLogoutUrl = (idToken: string, request: Request) => Promise<string | null>

export function authRoutes(ctx: AppContext, providerLogoutUrl?: ProviderLogoutUrl) {
  startExpiredSessionPurge(ctx)
  return new Elysia({ name: 'auth', seed: ctx.id, prefix: '/api/auth' })
    .use(authGuard(ctx))
    .post(
      '/login',
      async ({ body, cookie, request, server }) => {
        // A cross-site login would sign the victim's browser into the attacker's account.
        assertSameOrigin(ctx, request)
        const ip = clientIp(request, server, ctx.config.trustProxy)
        const session = await login(ctx, body.username, body.password, {
          ip,
          userAgent: request.headers.get('user-agent'),
        })
        setSessionCookie(ctx, cookie[SESSION_COOKIE]!, session)
        return { user: publicUser(session.user), expires_at: session.expiresAt.toISOString() }
      },
      {
        body: LoginBody,
        response: t.Object({ user: PublicUser, expires_at: t.String() }),
        detail: { summary: 'Log in; sets the session cookie' },
      },
    )
    .post(
      '/logout',
      // Not behind the guard: a cookie that no longer names a session (ended, expired, from
      // before a reset) is cleared all the same, so nobody is stuck with it.
      async ({ cookie, request, server }) => {
        assertSameOrigin(ctx, request)
        const token = cookie[SESSION_COOKIE]?.value
        let endSessionUrl: string | null = null
        if (typeof token !== 'string' || token === '') {
          if (bearerToken(request)) throw browserSessionOnly('Log out')
        } else {
          const user = await resolveSession(ctx, token)
          const idToken = await logout(ctx, token, user?.id)
          if (idToken && providerLogoutUrl) endSessionUrl = await providerLogoutUrl(idToken, request)
          if (user) {
            const actor = userActor(user, clientIp(request, server, ctx.config.trustProxy))
            await ctx.audit(
              'auth.logout',
              actor,
              { type: 'user', id: user.id },
              { provider_logout: endSessionUrl !== null },
            )
          }
        }
        cookie[SESSION_COOKIE]!.remove()
        return { ok: true as const, end_session_url: endSessionUrl }
      },
      {
        response: t.Object({ ok: t.Literal(true), end_session_url: t.Nullable(t.String()) }),
        detail: {
          summary:
            'Log out; ends this session and clears its cookie. After an OpenID Connect sign-in, end_session_url is where the browser ends it at the provider too',
        },
      },
    )
    .get('/me', ({ user }) => ({ user: publicUser(user) }), {
      auth: true,
      response: UserAnswer,
      detail: { summary: 'The logged-in user' },
    })
    .post(
      '/password',
      async ({ body, user, sessionToken, actor }) => {
        if (!sessionToken) throw browserSessionOnly('Changing the password')
        await changePassword(ctx, user.id, body.current_password, body.new_password, sessionToken)
        await ctx.audit('user.password_change', actor, { type: 'user', id: user.id })
        return { ok: true as const }
      },
      {
        auth: true,
        body: ChangePasswordBody,
        response: OkAnswer,
        detail: { summary: "Change one's own password; other sessions end" },
      },
    )
}
