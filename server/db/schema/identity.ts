// Tenants, users and their browser sessions: who may do what, and who is logged in.

import { sql } from 'drizzle-orm'
import { index, integer, pgTable, serial, text, uniqueIndex } from 'drizzle-orm/pg-core'
import { createdAt, tz } from './timestamps.ts'

export const USER_ROLES = ['system_admin', 'user'] as const
export type UserRole = (typeof USER_ROLES)[number]
export const USER_STATUSES = ['active', 'disabled'] as const
export type UserStatus = (typeof USER_STATUSES)[number]

export const tenants = pgTable('tenants', {
  id: serial('id').primaryKey(),
  name: text('name').notNull().unique(),
  createdAt: createdAt(),
})

export const users = pgTable(
  'users',
  {
    id: serial('id').primaryKey(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    username: text('username').notNull(),
    displayName: text('display_name'),
    email: text('email'),
    passwordHash: text('password_hash').notNull(),
    role: text('role', { enum: USER_ROLES }).notNull().default('user'),
    status: text('status', { enum: USER_STATUSES }).notNull().default('active'),
    createdAt: createdAt(),
    updatedAt: tz('updated_at').notNull().defaultNow(),
    lastLoginAt: tz('last_login_at'),
  },
  (t) => [uniqueIndex('users_username_lower_idx').on(sql`lower(${t.username})`)],
)

/** `user_id` of a row that belongs to a user: required, and deleted with the user. */
export function belongsToUser() {
  return integer('user_id')
    .notNull()
    .references(() => users.id, { onDelete: 'cascade' })
}

export const authSessions = pgTable(
  'auth_sessions',
  {
    /** SHA-256 of the cookie's token: a database leak does not yield usable cookies. */
    tokenHash: text('token_hash').primaryKey(),
    userId: belongsToUser(),
    createdAt: createdAt(),
    expiresAt: tz('expires_at').notNull(),
    lastSeenAt: tz('last_seen_at').notNull().defaultNow(),
    ip: text('ip'),
    userAgent: text('user_agent'),
    /** The ID token of an OpenID Connect sign-in: the id_token_hint of the provider's logout. */
    oidcIdToken: text('oidc_id_token'),
  },
  (t) => [index('auth_sessions_user_idx').on(t.userId), index('auth_sessions_expires_idx').on(t.expiresAt)],
)

export const PAT_SCOPES = ['read', 'sessions', 'admin'] as const
export type PatScope = (typeof PAT_SCOPES)[number]

/** Personal access tokens: SHA-256 only, with a short prefix kept to tell them apart in lists. */
export const personalAccessTokens = pgTable(
  'personal_access_tokens',
  {
    id: serial('id').primaryKey(),
    userId: belongsToUser(),
    name: text('name').notNull(),
    tokenHash: text('token_hash').notNull().unique(),
    tokenPrefix: text('token_prefix').notNull(),
    scopes: text('scopes', { enum: PAT_SCOPES }).array().notNull(),
    createdAt: createdAt(),
    expiresAt: tz('expires_at').notNull(),
    lastUsedAt: tz('last_used_at'),
    lastUsedIp: text('last_used_ip'),
    revokedAt: tz('revoked_at'),
  },
  (t) => [index('personal_access_tokens_user_idx').on(t.userId)],
)

/** Which OpenID Connect identity (issuer + subject) signs in as which user. */
export const userIdentities = pgTable(
  'user_identities',
  {
    id: serial('id').primaryKey(),
    userId: belongsToUser(),
    issuer: text('issuer').notNull(),
    subject: text('subject').notNull(),
    email: text('email'),
    createdAt: createdAt(),
    lastLoginAt: tz('last_login_at'),
  },
  (t) => [
    uniqueIndex('user_identities_issuer_subject_idx').on(t.issuer, t.subject),
    index('user_identities_user_idx').on(t.userId),
  ],
)

/**
 * A sign-in under way at the provider: single use (deleted when the provider sends the browser
 * back), short-lived, keyed by the SHA-256 of its `state`, so any instance can finish it.
 */
export const oidcLoginStates = pgTable(
  'oidc_login_states',
  {
    stateHash: text('state_hash').primaryKey(),
    nonce: text('nonce').notNull(),
    codeVerifier: text('code_verifier').notNull(),
    /** Where the browser goes after signing in (a same-site path). */
    nextPath: text('next_path').notNull(),
    createdAt: createdAt(),
    expiresAt: tz('expires_at').notNull(),
  },
  (t) => [index('oidc_login_states_expires_idx').on(t.expiresAt)],
)
