// The named plugin every capability uses to require a logged-in user: `{ auth: true }` for
// any user, `{ auth: 'system_admin' }` for system admins. It resolves `user` from the session
// cookie or from `Authorization: Bearer oa_pat_…` (a personal access token, limited to its
// scopes), and refuses cookie-authenticated state changes from a foreign Origin (CSRF); a
// bearer token is not sent by browsers on their own, so bearer calls skip that check.
import { Elysia } from 'elysia'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { forbidden, HttpError, unauthorized } from '../errors.ts'
import { clientIp, type PeerAddressSource } from '../http/client-ip.ts'
import { trustedBaseUrl } from '../http/public-url.ts'
import { isPersonalAccessToken, resolveToken, scopesAllow } from './pats.ts'
import { resolveSession, SESSION_COOKIE } from './service.ts'
import { bearerToken } from './tokens.ts'
import type { UserRow } from './users.ts'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/**
 * `cached`: any signed-in user, and the login may come from this instance's access cache
 * (access/cache.ts) instead of a database read: for the chat fast path, whose handler checks
 * the session's state in its own write.
 */
export type AuthRequirement = true | 'system_admin' | 'cached'

/**
 * A state-changing request carried by the browser's cookie (and every login) must come from our
 * own pages: its Origin must be this server's trusted address (PUBLIC_URL, else a trusted Host;
 * see http/public-url.ts). Requests without Origin (curl, agents) pass; bearer-token calls skip
 * this check entirely, since browsers never attach a bearer token on their own.
 */
export function assertSameOrigin(ctx: AppContext, request: Request): void {
  if (SAFE_METHODS.has(request.method)) return
  const origin = request.headers.get('origin')
  const fetchSite = request.headers.get('sec-fetch-site')
  const expected = trustedBaseUrl(ctx.config, request)
  if (fetchSite === 'cross-site' || (origin && (!expected || origin !== new URL(expected).origin))) {
    throw new HttpError(403, 'Cross-site request refused', 'csrf_rejected')
  }
}

function assertRequirement(user: UserRow, required: AuthRequirement): void {
  if (required === 'system_admin' && user.role !== 'system_admin') {
    throw forbidden('Only system administrators can do this')
  }
}

/** A signed-in user as an audit actor. */
export function userActor(
  user: { id: number; username: string; tenantId: number },
  ip: string | null,
): Actor {
  return { type: 'user', id: user.id, name: user.username, tenantId: user.tenantId, ip }
}

export type Authenticated = {
  user: UserRow
  /** The browser session's token; null when the call carries a personal access token. */
  sessionToken: string | null
  /** The personal access token the call carries, if any. */
  patId: number | null
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
  const bearer = bearerToken(request)
  if (bearer && isPersonalAccessToken(bearer))
    return authenticateToken(ctx, request, server, bearer, required)
  if (typeof token !== 'string' || token === '') throw unauthorized()
  const user = await resolveSession(ctx, token, { cached: required === 'cached' })
  if (!user) throw unauthorized('Your session has ended; please log in again')
  assertSameOrigin(ctx, request)
  assertRequirement(user, required)
  return {
    user,
    sessionToken: token,
    patId: null,
    actor: userActor(user, clientIp(request, server, ctx.config.trustProxy)),
  }
}

async function authenticateToken(
  ctx: AppContext,
  request: Request,
  server: PeerAddressSource | null,
  secret: string,
  required: AuthRequirement,
): Promise<Authenticated> {
  const ip = clientIp(request, server, ctx.config.trustProxy)
  const resolved = await resolveToken(ctx, secret, ip)
  if (!resolved) {
    await ctx.audit('token.use', { type: 'anonymous', ip }, null, {}, { outcome: 'denied' })
    throw unauthorized('Personal access token is invalid, expired or revoked')
  }
  const { user } = resolved
  if (!scopesAllow(resolved.scopes, request.method, new URL(request.url).pathname)) {
    throw new HttpError(
      403,
      `This token's scopes (${resolved.scopes.join(', ')}) do not allow this call`,
      'insufficient_scope',
    )
  }
  assertRequirement(user, required)
  return { user, sessionToken: null, patId: resolved.tokenId, actor: userActor(user, ip) }
}

/**
 * Elysia validates the body after `transform` and before `resolve`, so authentication runs in
 * `transform` (a caller without credentials learns nothing about a route's schema: 401, not
 * 400) and `resolve` hands the result on, typed, from a per-request map.
 */
export function authGuard(ctx: AppContext) {
  const authenticated = new WeakMap<Request, Authenticated>()
  return new Elysia({ name: 'auth.guard', seed: ctx.id }).macro({
    auth: (required: AuthRequirement) => ({
      transform: async ({ cookie, request, server }) => {
        const token = cookie[SESSION_COOKIE]?.value
        authenticated.set(request, await authenticate(ctx, request, server, token, required))
      },
      resolve: ({ request }) => authenticated.get(request)!,
    }),
  })
}
