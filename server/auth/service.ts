// Browser authentication: password login (throttled by throttle.ts), server-side sessions keyed by
// the SHA-256 of a random cookie token, logout and password change. No Elysia types here.
import { randomBytes } from 'node:crypto'
import { and, eq, gt, lt, sql } from 'drizzle-orm'
import { publishAccessRevoked } from '../access/events.ts'
import type { AppContext } from '../context/index.ts'
import { authSessions, oidcLoginStates, users } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'
import { decoyPasswordHash, hashPassword, verifyPassword } from './password.ts'
import { LOGIN_FAILED, throttleLogin } from './throttle.ts'
import { hashToken } from './tokens.ts'
import { findUserById, findUserByUsername, type UserRow } from './users.ts'

export { hashToken, LOGIN_FAILED }

export const SESSION_COOKIE = 'openace_session'
/** How often last_seen_at is refreshed; more often would turn every request into a write. */
const TOUCH_INTERVAL_MS = 60_000
const INVALID_CREDENTIALS = 'Invalid username or password'

export interface ClientInfo {
  ip: string | null
  userAgent: string | null
}

const PASSWORD_LOGIN_OFF =
  'Password sign-in is turned off on this server; use the sign-in button of your identity provider'

export async function login(ctx: AppContext, username: string, password: string, client: ClientInfo) {
  const failed = async (reason: string, user: UserRow | undefined) =>
    ctx.audit(
      LOGIN_FAILED,
      { type: 'anonymous', name: username.slice(0, 64), ip: client.ip },
      { type: 'user', id: username.toLowerCase() },
      { reason, method: 'password' },
      { outcome: 'failure', tenantId: user?.tenantId ?? null },
    )
  const { mode, breakGlassAdmin } = ctx.config.passwordLogin
  const breakGlassOnly = mode === 'break-glass-only'
  // Refused before any password is checked, so a turned-off password cannot be guessed either.
  if (breakGlassOnly && username.toLowerCase() !== breakGlassAdmin.toLowerCase()) {
    await failed('password_login_disabled', undefined)
    throw new HttpError(403, PASSWORD_LOGIN_OFF, 'password_login_disabled')
  }
  await throttleLogin(ctx, username, client.ip)
  const user = await findUserByUsername(ctx.db, username)
  // Same work and same answer for an unknown user, a wrong password and a disabled account.
  const ok = await verifyPassword(password, user?.passwordHash ?? (await decoyPasswordHash()))
  if (!user || !ok || user.status !== 'active') {
    await failed(!user ? 'unknown_user' : !ok ? 'bad_password' : 'disabled', user)
    throw new HttpError(401, INVALID_CREDENTIALS, 'invalid_credentials')
  }
  // The break-glass account is for system administrators only; a demoted one loses it.
  if (breakGlassOnly && user.role !== 'system_admin') {
    await failed('password_login_disabled', user)
    throw new HttpError(403, PASSWORD_LOGIN_OFF, 'password_login_disabled')
  }
  return startSession(ctx, user, client, { method: 'password' })
}

/**
 * A new browser session for a user who proved who they are (password or OpenID Connect): the
 * cookie token, its row, the last login time and the `auth.login` audit entry.
 */
export async function startSession(
  ctx: AppContext,
  user: UserRow,
  client: ClientInfo,
  how: { method: 'password' | 'oidc'; idToken?: string; details?: Record<string, unknown> },
) {
  const token = randomBytes(32).toString('base64url')
  const now = ctx.now()
  const expiresAt = new Date(now.getTime() + ctx.config.authSessionTtlSeconds * 1000)
  await ctx.db.insert(authSessions).values({
    tokenHash: hashToken(token),
    userId: user.id,
    createdAt: now,
    expiresAt,
    lastSeenAt: now,
    ip: client.ip,
    userAgent: client.userAgent?.slice(0, 512) ?? null,
    oidcIdToken: how.idToken ?? null,
  })
  await ctx.db.update(users).set({ lastLoginAt: now }).where(eq(users.id, user.id))
  await ctx.audit(
    'auth.login',
    { type: 'user', id: user.id, name: user.username, tenantId: user.tenantId, ip: client.ip },
    { type: 'user', id: user.id },
    { method: how.method, ...how.details },
  )
  return { user: { ...user, lastLoginAt: now }, token, expiresAt }
}

/**
 * The user behind a session cookie token, or undefined when missing, expired or disabled. With
 * `cached`, a login this instance read within ACCESS_CACHE_TTL_MS and no revocation dropped
 * since (access/cache.ts) answers without a database round trip.
 */
export async function resolveSession(
  ctx: AppContext,
  token: string,
  options: { cached?: boolean } = {},
): Promise<UserRow | undefined> {
  const tokenHash = hashToken(token)
  const now = ctx.now()
  const cache = ctx.state.accessCache
  const hit = options.cached ? cache.login(tokenHash) : undefined
  if (hit && hit.expiresAt > now && now.getTime() - hit.lastSeenAt.getTime() <= TOUCH_INTERVAL_MS)
    return hit.user
  const generation = cache.generation()
  const [row] = await ctx.db
    .select({ user: users, lastSeenAt: authSessions.lastSeenAt, expiresAt: authSessions.expiresAt })
    .from(authSessions)
    .innerJoin(users, eq(users.id, authSessions.userId))
    .where(and(eq(authSessions.tokenHash, tokenHash), gt(authSessions.expiresAt, now)))
    .limit(1)
  if (row?.user.status !== 'active') return undefined
  let lastSeenAt = row.lastSeenAt
  if (now.getTime() - row.lastSeenAt.getTime() > TOUCH_INTERVAL_MS) {
    await ctx.db.update(authSessions).set({ lastSeenAt: now }).where(eq(authSessions.tokenHash, tokenHash))
    lastSeenAt = now
  }
  if (options.cached)
    cache.putLogin(tokenHash, { user: row.user, expiresAt: row.expiresAt, lastSeenAt }, generation)
  return row.user
}

/**
 * Ends this login; the streams it opened (its user's, when known) close on every instance.
 * Returns the ID token it was signed in with (OpenID Connect), for the provider's logout.
 */
export async function logout(ctx: AppContext, token: string, userId?: number): Promise<string | null> {
  const tokenHash = hashToken(token)
  const [ended] = await ctx.db
    .delete(authSessions)
    .where(eq(authSessions.tokenHash, tokenHash))
    .returning({ idToken: authSessions.oidcIdToken, userId: authSessions.userId })
  ctx.state.accessCache.drop({ token_hash: tokenHash })
  const who = userId ?? ended?.userId
  if (who !== undefined) await publishAccessRevoked(ctx, 'logout', { user_id: who })
  return ended?.idToken ?? null
}

export async function revokeUserSessions(
  ctx: AppContext,
  userId: number,
  exceptToken?: string,
): Promise<void> {
  const filter = exceptToken
    ? and(eq(authSessions.userId, userId), sql`${authSessions.tokenHash} <> ${hashToken(exceptToken)}`)
    : eq(authSessions.userId, userId)
  await ctx.db.delete(authSessions).where(filter)
  // Its revocation follows (password change, disable, delete); this instance forgets at once.
  ctx.state.accessCache.drop({ user_id: userId })
}

export async function changePassword(
  ctx: AppContext,
  userId: number,
  current: string,
  next: string,
  keepToken: string,
) {
  const user = await findUserById(ctx.db, userId)
  if (!user || !(await verifyPassword(current, user.passwordHash))) {
    throw new HttpError(400, 'The current password is not correct', 'invalid_request', 'current_password')
  }
  await ctx.db
    .update(users)
    .set({ passwordHash: await hashPassword(next), updatedAt: ctx.now() })
    .where(eq(users.id, userId))
  await revokeUserSessions(ctx, userId, keepToken)
  await publishAccessRevoked(ctx, 'password_changed', { user_id: userId })
}

export async function deleteExpiredSessions(ctx: AppContext): Promise<void> {
  await ctx.db.delete(authSessions).where(lt(authSessions.expiresAt, ctx.now()))
  await ctx.db.delete(oidcLoginStates).where(lt(oidcLoginStates.expiresAt, ctx.now()))
}

/** Expired login sessions (and unfinished OIDC sign-ins) are refused already; this removes their rows. */
export function startExpiredSessionPurge(ctx: AppContext): void {
  const timer = setInterval(() => {
    deleteExpiredSessions(ctx).catch((error) => ctx.log.warn('expired session purge failed', { error }))
  }, ctx.config.authSessionPurgeIntervalSeconds * 1000)
  ctx.onClose(() => clearInterval(timer))
}
