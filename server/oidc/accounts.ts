// Who an OpenID Connect sign-in is: the operator's policy (allowed e-mail domains, a required
// group) checked on every sign-in, then the user linked to the identity (issuer + subject); on
// the first sign-in a user linked by verified e-mail when the operator allows it, else created
// in the tenant and role the claims map to.
import { randomBytes } from 'node:crypto'
import { and, asc, eq, sql } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import { hashPassword } from '../auth/password.ts'
import { findUserById, type UserRow } from '../auth/users.ts'
import type { OidcConfig } from '../config.ts'
import type { AppContext } from '../context/index.ts'
import { tenants, type UserRole, userIdentities, users } from '../db/schema/index.ts'
import { OidcRefusal } from './refusal.ts'

export type OidcClaims = Record<string, unknown> & { sub: string; iss: string }

/** What a username may hold (auth/model.ts's Username) and how long a made-up one may be. */
const USERNAME_UNSAFE = /[^A-Za-z0-9._@-]+/g
const USERNAME_MAX = 60

const text = (value: unknown) => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined)

/** The e-mail the provider vouches for, or undefined (absent, or email_verified not true). */
export function verifiedEmail(claims: OidcClaims): string | undefined {
  const email = text(claims.email)
  const verified = claims.email_verified === true || claims.email_verified === 'true'
  return email && verified ? email.toLowerCase() : undefined
}

/** The user's groups: the configured claim as an array of strings, or one string. */
export function groupsOf(claims: OidcClaims, settings: OidcConfig): string[] {
  const value = claims[settings.groupsClaim]
  if (typeof value === 'string') return [value]
  return Array.isArray(value) ? value.filter((g): g is string => typeof g === 'string') : []
}

/** The operator's admission rules, checked on every sign-in (not only the first). */
export function checkPolicy(claims: OidcClaims, settings: OidcConfig): void {
  if (settings.allowedEmailDomains.length > 0) {
    const email = verifiedEmail(claims)
    if (!email) {
      throw new OidcRefusal(
        'oidc_email_unverified',
        text(claims.email) ? 'the e-mail is not verified by the provider' : 'no e-mail claim',
      )
    }
    const domain = email.slice(email.lastIndexOf('@') + 1)
    if (!settings.allowedEmailDomains.includes(domain)) {
      throw new OidcRefusal('oidc_domain_not_allowed', `e-mail domain ${domain} is not allowed`)
    }
  }
  if (settings.requiredGroup && !groupsOf(claims, settings).includes(settings.requiredGroup)) {
    throw new OidcRefusal('oidc_group_required', `not in group ${settings.requiredGroup}`)
  }
}

export interface ResolvedUser {
  user: UserRow
  /** created: a new user; linked: an existing user by e-mail; known: signed in before. */
  how: 'created' | 'linked' | 'known'
}

export async function resolveUser(
  ctx: AppContext,
  settings: OidcConfig,
  claims: OidcClaims,
  actor: Actor,
): Promise<ResolvedUser> {
  checkPolicy(claims, settings)
  const known = await findByIdentity(ctx, claims)
  if (known) return { user: assertActive(known), how: 'known' }
  const linked = settings.linkByEmail ? await linkByEmail(ctx, claims) : undefined
  if (linked) {
    await ctx.audit(
      'user.oidc_link',
      actor,
      { type: 'user', id: linked.id },
      { issuer: claims.iss, subject: claims.sub, email: verifiedEmail(claims) },
    )
    return { user: assertActive(linked), how: 'linked' }
  }
  const created = await createUser(ctx, settings, claims)
  if (!created) {
    // Another sign-in of the same identity created it in the meantime.
    const raced = await findByIdentity(ctx, claims)
    if (raced) return { user: assertActive(raced), how: 'known' }
    throw new Error('create user for OpenID Connect identity: neither created nor found')
  }
  await ctx.audit(
    'user.create',
    actor,
    { type: 'user', id: created.id },
    {
      username: created.username,
      role: created.role,
      tenant_id: created.tenantId,
      method: 'oidc',
      issuer: claims.iss,
    },
    { tenantId: created.tenantId },
  )
  return { user: created, how: 'created' }
}

function assertActive(user: UserRow): UserRow {
  if (user.status !== 'active') throw new OidcRefusal('oidc_account_disabled', `user ${user.id} is disabled`)
  return user
}

async function findByIdentity(ctx: AppContext, claims: OidcClaims): Promise<UserRow | undefined> {
  const [row] = await ctx.db
    .update(userIdentities)
    .set({ lastLoginAt: ctx.now(), email: text(claims.email) ?? null })
    .where(and(eq(userIdentities.issuer, claims.iss), eq(userIdentities.subject, claims.sub)))
    .returning({ userId: userIdentities.userId })
  return row ? findUserById(ctx.db, row.userId) : undefined
}

/**
 * The one local user with this verified e-mail who has no identity at this provider yet, now
 * linked; undefined when there is none (or several: which one would be a guess). The
 * break-glass administrator is never linked: it must keep working when the provider does not.
 */
async function linkByEmail(ctx: AppContext, claims: OidcClaims): Promise<UserRow | undefined> {
  const email = verifiedEmail(claims)
  if (!email) return undefined
  const candidates = await ctx.db
    .select()
    .from(users)
    .where(
      and(
        eq(sql`lower(${users.email})`, email),
        sql`lower(${users.username}) <> ${ctx.config.passwordLogin.breakGlassAdmin.toLowerCase()}`,
        sql`not exists (select 1 from ${userIdentities} where ${userIdentities.userId} = ${users.id} and ${userIdentities.issuer} = ${claims.iss})`,
      ),
    )
    .limit(2)
  if (candidates.length !== 1) return undefined
  const user = candidates[0]!
  const [inserted] = await ctx.db
    .insert(userIdentities)
    .values({ userId: user.id, issuer: claims.iss, subject: claims.sub, email, lastLoginAt: ctx.now() })
    .onConflictDoNothing()
    .returning({ id: userIdentities.id })
  return inserted ? user : undefined
}

async function tenantFor(ctx: AppContext, settings: OidcConfig, claims: OidcClaims): Promise<number> {
  const name = settings.tenantClaim ? text(claims[settings.tenantClaim]) : settings.defaultTenant
  if (settings.tenantClaim && !name) {
    throw new OidcRefusal('oidc_tenant_unknown', `no ${settings.tenantClaim} claim`)
  }
  const [row] = await ctx.db
    .select({ id: tenants.id })
    .from(tenants)
    .where(name ? eq(tenants.name, name) : undefined)
    .orderBy(asc(tenants.id))
    .limit(1)
  if (!row) throw new OidcRefusal('oidc_tenant_unknown', `tenant ${name ?? '(first)'} does not exist`)
  return row.id
}

function roleFor(settings: OidcConfig, claims: OidcClaims): UserRole {
  const groups = groupsOf(claims, settings)
  return settings.adminGroups.some((g) => groups.includes(g)) ? 'system_admin' : 'user'
}

/** A readable username from the claims: preferred_username, else the e-mail, else the subject. */
export function usernameBase(claims: OidcClaims): string {
  const raw = text(claims.preferred_username) ?? text(claims.email) ?? `oidc-${claims.sub}`
  const safe = raw.replace(USERNAME_UNSAFE, '-').replace(/^-+|-+$/g, '')
  return (safe || `oidc-${randomBytes(4).toString('hex')}`).slice(0, USERNAME_MAX)
}

/** The new user and its identity in one transaction; undefined when the identity appeared meanwhile. */
async function createUser(
  ctx: AppContext,
  settings: OidcConfig,
  claims: OidcClaims,
): Promise<UserRow | undefined> {
  const tenantId = await tenantFor(ctx, settings, claims)
  const role = roleFor(settings, claims)
  const base = usernameBase(claims)
  // Nobody knows this password: the user signs in through the provider (an admin may set one).
  const passwordHash = await hashPassword(randomBytes(32).toString('base64url'))
  const identityTaken = new Error('identity taken')
  try {
    return await ctx.transaction(async (tx) => {
      let user: UserRow | undefined
      for (let n = 1; !user; n++) {
        const username =
          n === 1 ? base : n <= 20 ? `${base}-${n}` : `${base}-${randomBytes(3).toString('hex')}`
        ;[user] = await tx
          .insert(users)
          .values({
            tenantId,
            username,
            passwordHash,
            role,
            displayName: text(claims.name)?.slice(0, 128) ?? null,
            email: text(claims.email)?.slice(0, 256) ?? null,
            lastLoginAt: ctx.now(),
          })
          .onConflictDoNothing()
          .returning()
      }
      const [identity] = await tx
        .insert(userIdentities)
        .values({
          userId: user.id,
          issuer: claims.iss,
          subject: claims.sub,
          email: text(claims.email) ?? null,
          lastLoginAt: ctx.now(),
        })
        .onConflictDoNothing()
        .returning({ id: userIdentities.id })
      if (!identity) throw identityTaken
      return user
    })
  } catch (error) {
    if (error === identityTaken) return undefined
    throw error
  }
}
