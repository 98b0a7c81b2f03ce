// /api/auth: login, logout, the current user, and changing one's own password.
import { Elysia, t } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { badRequest } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { authGuard } from './guard.ts'
import { ChangePasswordBody, LoginBody, PublicUser } from './model.ts'
import { changePassword, login, logout, SESSION_COOKIE } from './service.ts'
import { publicUser } from './users.ts'

/** A personal access token cannot end a browser session or change the password it does not know. */
const browserSessionOnly = (what: string) =>
  badRequest(`${what} needs a browser session; revoke a token with DELETE /api/tokens/{id}`)

export function authRoutes(ctx: AppContext) {
  const secure = ctx.config.publicUrl?.startsWith('https://') ?? false
  return new Elysia({ name: 'auth', seed: ctx.id, prefix: '/api/auth' })
    .use(authGuard(ctx))
    .post(
      '/login',
      async ({ body, cookie, request, server }) => {
        const ip = clientIp(request, server, ctx.config.trustProxy)
        const session = await login(ctx, body.username, body.password, {
          ip,
          userAgent: request.headers.get('user-agent'),
        })
        cookie[SESSION_COOKIE]!.set({
          value: session.token,
          httpOnly: true,
          sameSite: 'lax',
          secure,
          path: '/',
          expires: session.expiresAt,
        })
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
      async ({ cookie, user, sessionToken, actor }) => {
        if (!sessionToken) throw browserSessionOnly('Log out')
        await logout(ctx, sessionToken)
        cookie[SESSION_COOKIE]!.remove()
        await ctx.audit('auth.logout', actor, { type: 'user', id: user.id })
        return { ok: true }
      },
      { auth: true, detail: { summary: 'Log out; ends this session' } },
    )
    .get('/me', ({ user }) => ({ user: publicUser(user) }), {
      auth: true,
      response: t.Object({ user: PublicUser }),
      detail: { summary: 'The logged-in user' },
    })
    .post(
      '/password',
      async ({ body, user, sessionToken, actor }) => {
        if (!sessionToken) throw browserSessionOnly('Changing the password')
        await changePassword(ctx, user.id, body.current_password, body.new_password, sessionToken)
        await ctx.audit('user.password_change', actor, { type: 'user', id: user.id })
        return { ok: true }
      },
      {
        auth: true,
        body: ChangePasswordBody,
        detail: { summary: "Change one's own password; other sessions end" },
      },
    )
}
