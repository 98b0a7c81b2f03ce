// The named plugin every capability uses to require a logged-in user: `{ auth: true }` for
// any user, `{ auth: 'system_admin' }` for system admins. It resolves `user` and refuses
// cookie-authenticated state changes from a foreign Origin (CSRF).
import { Elysia } from 'elysia'
import { type Actor, userActor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { forbidden, HttpError, unauthorized } from '../errors.ts'
import { clientIp, type PeerAddressSource } from '../http/client-ip.ts'
import { publicBaseUrl } from '../http/public-url.ts'
import { resolveSession, SESSION_COOKIE } from './service.ts'
import type { UserRow } from './users.ts'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export type AuthRequirement = true | 'system_admin'

/** A state-changing request carried by the browser's cookie must come from our own pages. */
export function assertSameOrigin(ctx: AppContext, request: Request): void {
  if (SAFE_METHODS.has(request.method)) return
  const origin = request.headers.get('origin')
  const fetchSite = request.headers.get('sec-fetch-site')
  if (
    (origin && origin !== new URL(publicBaseUrl(ctx.config, request)).origin) ||
    fetchSite === 'cross-site'
  ) {
    throw new HttpError(403, 'Cross-site request refused', 'csrf_rejected')
  }
}

export type Authenticated = {
  user: UserRow
  sessionToken: string
  /** The user as an audit actor, with the request's address. */
  actor: Actor
}

export async function authenticate(
  ctx: AppContext,
  request: Request,
  server: PeerAddressSource | null,
  token: unknown,
  required: AuthRequirement,
): Promise<Authenticated> {
  if (typeof token !== 'string' || token === '') throw unauthorized()
  const user = await resolveSession(ctx, token)
  if (!user) throw unauthorized('Your session has ended; please log in again')
  assertSameOrigin(ctx, request)
  if (required === 'system_admin' && user.role !== 'system_admin') {
    throw forbidden('Only system administrators can do this')
  }
  return {
    user,
    sessionToken: token,
    actor: userActor(user, clientIp(request, server, ctx.config.trustProxy)),
  }
}

export function authGuard(ctx: AppContext) {
  return new Elysia({ name: 'auth.guard', seed: ctx.id }).macro({
    auth: (required: AuthRequirement) => ({
      resolve: ({ cookie, request, server }) =>
        authenticate(ctx, request, server, cookie[SESSION_COOKIE]?.value, required),
    }),
  })
}
