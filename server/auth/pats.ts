// Personal access tokens: `oa_pat_` + 256 random bits, shown once, stored as SHA-256. A token
// acts as its owner with at most its scopes; the owner's current role and status are read on
// every use, so a demoted or disabled owner's tokens lose those rights at once.
import { randomBytes } from 'node:crypto'
import { and, desc, eq, gt, isNull, type SQL } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import type { AppContext } from '../context/index.ts'
import { type PatScope, personalAccessTokens, users } from '../db/schema/index.ts'
import { badRequest, forbidden, notFound } from '../errors.ts'
import { hashToken } from './tokens.ts'
import type { UserRow } from './users.ts'

export const PAT_PREFIX = 'oa_pat_'
/** Characters of the token kept in clear, so an owner can tell tokens apart in the list. */
const SHOWN_PREFIX_LENGTH = PAT_PREFIX.length + 6
/** last_used_at is refreshed at most this often: more would turn every call into a write. */
const TOUCH_INTERVAL_MS = 60_000
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
/** The API a `sessions` token may change besides reading: sessions and their conversation. */
const SESSIONS_PATH = /^\/api\/remote\/sessions(\/|$)/

type PatRow = typeof personalAccessTokens.$inferSelect

export const isPersonalAccessToken = (token: string) => token.startsWith(PAT_PREFIX)

export function publicToken(row: PatRow, owner: { username: string }) {
  return {
    id: row.id,
    name: row.name,
    user_id: row.userId,
    username: owner.username,
    token_prefix: row.tokenPrefix,
    scopes: row.scopes,
    created_at: row.createdAt.toISOString(),
    expires_at: row.expiresAt.toISOString(),
    last_used_at: row.lastUsedAt?.toISOString() ?? null,
    revoked_at: row.revokedAt?.toISOString() ?? null,
  }
}

export interface CreateTokenInput {
  name: string
  expiresInDays: number
  scopes: PatScope[]
}

export async function createToken(ctx: AppContext, owner: UserRow, actor: Actor, input: CreateTokenInput) {
  const maxDays = ctx.config.patMaxTtlDays
  if (input.expiresInDays > maxDays) {
    throw badRequest(`Tokens expire after at most ${maxDays} days`, 'expires_in_days')
  }
  const scopes = [...new Set(input.scopes)]
  if (scopes.includes('admin') && owner.role !== 'system_admin') {
    throw forbidden('Only system administrators can create tokens with the admin scope')
  }
  const secret = `${PAT_PREFIX}${randomBytes(32).toString('base64url')}`
  const now = ctx.now()
  const [row] = await ctx.db
    .insert(personalAccessTokens)
    .values({
      userId: owner.id,
      name: input.name.trim(),
      tokenHash: hashToken(secret),
      tokenPrefix: secret.slice(0, SHOWN_PREFIX_LENGTH),
      scopes,
      createdAt: now,
      expiresAt: new Date(now.getTime() + input.expiresInDays * 86_400_000),
    })
    .returning()
  await ctx.audit(
    'token.create',
    actor,
    { type: 'personal_access_token', id: row!.id },
    { name: row!.name, scopes, expires_at: row!.expiresAt.toISOString() },
  )
  return { token: secret, personal_access_token: publicToken(row!, owner) }
}

/** Own tokens; a system admin may ask for one user's (`userId`) or everyone's (`all`). */
export async function listTokens(
  ctx: AppContext,
  caller: UserRow,
  filter: { userId?: number; all?: boolean },
) {
  const wantsOthers = filter.all || (filter.userId !== undefined && filter.userId !== caller.id)
  if (wantsOthers && caller.role !== 'system_admin') {
    throw forbidden("Only system administrators can list other users' tokens")
  }
  const where: SQL[] = []
  if (!filter.all) where.push(eq(personalAccessTokens.userId, filter.userId ?? caller.id))
  const rows = await ctx.db
    .select({ token: personalAccessTokens, username: users.username })
    .from(personalAccessTokens)
    .innerJoin(users, eq(users.id, personalAccessTokens.userId))
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(personalAccessTokens.id))
  return rows.map((r) => publicToken(r.token, r))
}

/** Revokes one's own token, or anyone's for a system admin; others' tokens answer 404. */
export async function revokeToken(ctx: AppContext, caller: UserRow, actor: Actor, id: number) {
  const ownFilter = caller.role === 'system_admin' ? [] : [eq(personalAccessTokens.userId, caller.id)]
  const [row] = await ctx.db
    .select({ token: personalAccessTokens, username: users.username })
    .from(personalAccessTokens)
    .innerJoin(users, eq(users.id, personalAccessTokens.userId))
    .where(and(eq(personalAccessTokens.id, id), ...ownFilter))
  if (!row) throw notFound('Token')
  const revokedAt = row.token.revokedAt ?? ctx.now()
  if (!row.token.revokedAt) {
    await ctx.db.update(personalAccessTokens).set({ revokedAt }).where(eq(personalAccessTokens.id, id))
    await ctx.audit(
      'token.revoke',
      actor,
      { type: 'personal_access_token', id },
      { name: row.token.name, owner_id: row.token.userId },
    )
  }
  return publicToken({ ...row.token, revokedAt }, row)
}

export interface ResolvedToken {
  user: UserRow
  tokenId: number
  scopes: PatScope[]
}

/** The live token and its active owner behind a secret, or undefined (unknown, revoked, expired, disabled). */
export async function resolveToken(
  ctx: AppContext,
  secret: string,
  ip: string | null,
): Promise<ResolvedToken | undefined> {
  const now = ctx.now()
  const [row] = await ctx.db
    .select({ token: personalAccessTokens, user: users })
    .from(personalAccessTokens)
    .innerJoin(users, eq(users.id, personalAccessTokens.userId))
    .where(
      and(
        eq(personalAccessTokens.tokenHash, hashToken(secret)),
        isNull(personalAccessTokens.revokedAt),
        gt(personalAccessTokens.expiresAt, now),
      ),
    )
    .limit(1)
  if (row?.user.status !== 'active') return undefined
  const last = row.token.lastUsedAt?.getTime() ?? 0
  if (now.getTime() - last > TOUCH_INTERVAL_MS) {
    await ctx.db
      .update(personalAccessTokens)
      .set({ lastUsedAt: now, lastUsedIp: ip })
      .where(eq(personalAccessTokens.id, row.token.id))
  }
  return { user: row.user, tokenId: row.token.id, scopes: row.token.scopes }
}

/** Whether a token with these scopes may make this call: any scope reads, `sessions` steers sessions, `admin` does all. */
export function scopesAllow(scopes: readonly PatScope[], method: string, path: string): boolean {
  if (scopes.includes('admin') || SAFE_METHODS.has(method)) return true
  return scopes.includes('sessions') && SESSIONS_PATH.test(path)
}
