// The browser session cookie as every sign-in sets it (password or OpenID Connect): HttpOnly,
// SameSite=Lax (the provider's redirect back is a top-level navigation), Secure under https.
import type { Cookie } from 'elysia'
import type { AppContext } from '../context/index.ts'

export const secureCookies = (ctx: AppContext) => ctx.config.publicUrl?.startsWith('https://') ?? false

export function setSessionCookie(
  ctx: AppContext,
  cookie: Cookie<unknown>,
  session: { token: string; expiresAt: Date },
): void {
  cookie.set({
    value: session.token,
    httpOnly: true,
    sameSite: 'lax',
    secure: secureCookies(ctx),
    path: '/',
    expires: session.expiresAt,
  })
}
