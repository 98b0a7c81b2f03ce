// Proxy tokens: the short-lived credential an agent's CLI uses as its "API key". HMAC-SHA256
// signed claims (jti, session, user, machine, tenant, provider, expiry) plus a proxy_tokens row
// so a token can be revoked, and the access rule: a token dies with its owner's access. Verified tokens are cached for a moment; a revocation NOTIFY clears
// every instance's cache, and the short cache lifetime bounds staleness if a NOTIFY is missed.
import { Buffer } from 'node:buffer'
import { and, desc, eq, gt, inArray, isNull, max, type SQL, sql } from 'drizzle-orm'
import { ownerStillHolds } from '../access/rule.ts'
import type { AppContext } from '../context/index.ts'
import {
  ENDED_SESSION_STATUSES,
  LIVE_SESSION_STATUSES,
  type LlmProvider,
  proxyTokens,
  sessions,
} from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { conflict } from '../errors.ts'
import { deriveKey, secretRoot } from '../secrets.ts'

export const TOKEN_PREFIX = 'oa-pt.'
export const TOKENS_REVOKED_CHANNEL = 'llm_proxy_tokens_revoked'
/** How long a verified token is trusted without asking the database again. */
const VERIFIED_CACHE_MS = 1000
const VERIFIED_CACHE_MAX = 50_000

export interface ProxyTokenClaims {
  jti: string
  sessionId: string
  userId: number
  machineId: string | null
  tenantId: number
  provider: LlmProvider | null
  /** Expiry, seconds since the epoch. */
  exp: number
}

export interface IssueProxyTokenInput {
  sessionId: string
  userId: number
  machineId: string | null
  tenantId: number
  provider?: LlmProvider | null
}

export interface IssuedProxyToken {
  token: string
  jti: string
  expires_at: string
}

/** The signing key and the verified-token cache of this instance (ctx.state.proxyTokens). */
export interface TokenState {
  signingKey: Promise<CryptoKey>
  verified: Map<string, { until: number; claims: Promise<ProxyTokenClaims | null> }>
}

export function createTokenState(ctx: AppContext): TokenState {
  const raw = deriveKey(secretRoot(ctx.config), 'proxy-token-signing')
  const s: TokenState = {
    signingKey: crypto.subtle.importKey(
      'raw',
      new Uint8Array(raw),
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign', 'verify'],
    ),
    verified: new Map(),
  }
  const verified = s.verified
  ctx.database
    .listen(TOKENS_REVOKED_CHANNEL, () => verified.clear())
    .then((unlisten) => ctx.onClose(unlisten))
    .catch((cause) => ctx.log.warn('cannot listen for proxy token revocations', { error: cause }))
  return s
}

const b64url = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64url')
const fromB64url = (text: string) => new Uint8Array(Buffer.from(text, 'base64url'))

async function sign(ctx: AppContext, claims: ProxyTokenClaims): Promise<string> {
  const body = b64url(new TextEncoder().encode(JSON.stringify(claims)))
  const mac = await crypto.subtle.sign(
    'HMAC',
    await ctx.state.proxyTokens.signingKey,
    new TextEncoder().encode(body),
  )
  return `${TOKEN_PREFIX}${body}.${b64url(new Uint8Array(mac))}`
}

/** Issues a token for a live session and records it; the sessions code calls this. */
export async function issueProxyToken(
  ctx: AppContext,
  input: IssueProxyTokenInput,
  tx?: Tx,
): Promise<IssuedProxyToken> {
  const jti = crypto.randomUUID()
  const expiresAt = new Date(ctx.now().getTime() + ctx.config.proxyTokenTtlSeconds * 1000)
  const claims: ProxyTokenClaims = {
    jti,
    sessionId: input.sessionId,
    userId: input.userId,
    machineId: input.machineId,
    tenantId: input.tenantId,
    provider: input.provider ?? null,
    exp: Math.floor(expiresAt.getTime() / 1000),
  }
  await (tx ?? ctx.db).insert(proxyTokens).values({ ...claims, expiresAt })
  return { token: await sign(ctx, claims), jti, expires_at: expiresAt.toISOString() }
}

/** A fresh token for a session that is still live, with the claims of its latest token (token.refresh). */
export async function refreshProxyToken(ctx: AppContext, sessionId: string): Promise<IssuedProxyToken> {
  const [row] = await ctx.db
    .select({ token: proxyTokens, status: sessions.status })
    .from(proxyTokens)
    .innerJoin(sessions, eq(sessions.id, proxyTokens.sessionId))
    .where(and(eq(proxyTokens.sessionId, sessionId), isNull(proxyTokens.revokedAt)))
    .orderBy(desc(proxyTokens.issuedAt))
    .limit(1)
  if (
    !row ||
    (ENDED_SESSION_STATUSES as readonly string[]).includes(row.status) ||
    !(await ownerStillHolds(ctx, sessionId))
  )
    throw conflict('The session has ended or has no proxy token to renew')
  const { userId, machineId, tenantId, provider } = row.token
  return issueProxyToken(ctx, { sessionId, userId, machineId, tenantId, provider })
}

/**
 * Live sessions whose newest valid token expires before `horizon`, with their machine: the ones
 * the renewal sweep (sessions/token-renewal.ts) gives a fresh token.
 */
export async function sessionsWithTokensExpiringBefore(
  ctx: AppContext,
  horizon: Date,
): Promise<Array<{ sessionId: string; machineId: string | null }>> {
  const newest = max(proxyTokens.expiresAt)
  return ctx.db
    .select({ sessionId: proxyTokens.sessionId, machineId: sessions.remoteMachineId })
    .from(proxyTokens)
    .innerJoin(sessions, eq(sessions.id, proxyTokens.sessionId))
    .where(
      and(
        isNull(proxyTokens.revokedAt),
        gt(proxyTokens.expiresAt, ctx.now()),
        inArray(sessions.status, LIVE_SESSION_STATUSES),
      ),
    )
    .groupBy(proxyTokens.sessionId, sessions.remoteMachineId)
    .having(sql`${newest} < ${horizon.toISOString()}::timestamptz`)
}

/** Revokes every token of a session and/or machine, on this and every other instance. */
export async function revokeProxyTokens(
  ctx: AppContext,
  scope: { sessionId?: string; machineId?: string },
  within?: Tx,
): Promise<number> {
  const where: SQL[] = [isNull(proxyTokens.revokedAt)]
  if (scope.sessionId) where.push(eq(proxyTokens.sessionId, scope.sessionId))
  if (scope.machineId) where.push(eq(proxyTokens.machineId, scope.machineId))
  if (where.length === 1) throw new Error('revokeProxyTokens needs a sessionId or a machineId')
  return ctx.transaction(async (tx) => {
    const revoked = await tx
      .update(proxyTokens)
      .set({ revokedAt: ctx.now() })
      .where(and(...where))
      .returning({ jti: proxyTokens.jti })
    tx.afterCommit(async () => {
      ctx.state.proxyTokens.verified.clear()
      await ctx.database.notify(TOKENS_REVOKED_CHANNEL, '')
    })
    return revoked.length
  }, within)
}

function parseClaims(json: string): ProxyTokenClaims | null {
  try {
    const c = JSON.parse(json) as ProxyTokenClaims
    if (typeof c.jti !== 'string' || typeof c.sessionId !== 'string' || typeof c.exp !== 'number') return null
    return c
  } catch {
    return null
  }
}

async function verifyUncached(ctx: AppContext, token: string): Promise<ProxyTokenClaims | null> {
  const dot = token.lastIndexOf('.')
  if (!token.startsWith(TOKEN_PREFIX) || dot <= TOKEN_PREFIX.length) return null
  const body = token.slice(TOKEN_PREFIX.length, dot)
  const ok = await crypto.subtle.verify(
    'HMAC',
    await ctx.state.proxyTokens.signingKey,
    fromB64url(token.slice(dot + 1)),
    new TextEncoder().encode(body),
  )
  if (!ok) return null
  const claims = parseClaims(new TextDecoder().decode(fromB64url(body)))
  if (!claims) return null
  const [row] = await ctx.db
    .select({ revokedAt: proxyTokens.revokedAt, status: sessions.status })
    .from(proxyTokens)
    .innerJoin(sessions, eq(sessions.id, proxyTokens.sessionId))
    .where(eq(proxyTokens.jti, claims.jti))
    .limit(1)
  if (!row || row.revokedAt || (ENDED_SESSION_STATUSES as readonly string[]).includes(row.status)) return null
  // The token is worth what its owner's access to the session is worth (server/access/rule.ts).
  if (!(await ownerStillHolds(ctx, claims.sessionId))) return null
  if (claims.exp * 1000 > ctx.now().getTime()) return claims
  return renewedClaims(ctx, claims)
}

/**
 * An expired token stays good while its live session holds a renewed one: a running CLI keeps
 * the key it was started with, and the session's renewal (token.refresh) vouches for it. It
 * lapses with the newest renewal, and dies at once when the session's tokens are revoked.
 */
async function renewedClaims(ctx: AppContext, claims: ProxyTokenClaims): Promise<ProxyTokenClaims | null> {
  const [renewal] = await ctx.db
    .select({ until: max(proxyTokens.expiresAt) })
    .from(proxyTokens)
    .where(and(eq(proxyTokens.sessionId, claims.sessionId), isNull(proxyTokens.revokedAt)))
  const until = renewal?.until ? new Date(renewal.until).getTime() : 0
  if (until <= ctx.now().getTime()) return null
  return { ...claims, exp: Math.floor(until / 1000) }
}

/** The token's claims when it is genuine, unexpired, unrevoked and its session still live; else null. */
export async function verifyProxyToken(ctx: AppContext, token: string): Promise<ProxyTokenClaims | null> {
  const s = ctx.state.proxyTokens
  const now = ctx.now().getTime()
  const hit = s.verified.get(token)
  if (hit && hit.until > now) {
    const claims = await hit.claims
    return claims && claims.exp * 1000 > ctx.now().getTime() ? claims : null
  }
  if (s.verified.size >= VERIFIED_CACHE_MAX) s.verified.clear()
  const claims = verifyUncached(ctx, token)
  s.verified.set(token, { until: now + VERIFIED_CACHE_MS, claims })
  claims.then(
    (c) => {
      if (!c) s.verified.delete(token)
    },
    () => s.verified.delete(token),
  )
  return claims
}
