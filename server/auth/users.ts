// User records: lookups, the public shape sent to browsers, and the first-start admin.
import { randomBytes } from 'node:crypto'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { asc, count, eq, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import type { Db } from '../db/index.ts'
import { tenants, users } from '../db/schema/index.ts'
import { hashPassword } from './password.ts'

export type UserRow = typeof users.$inferSelect

export function publicUser(u: UserRow) {
  return {
    id: u.id,
    username: u.username,
    display_name: u.displayName,
    email: u.email,
    role: u.role,
    status: u.status,
    tenant_id: u.tenantId,
    created_at: u.createdAt.toISOString(),
    last_login_at: u.lastLoginAt ? u.lastLoginAt.toISOString() : null,
  }
}

export async function findUserByUsername(db: Db, username: string): Promise<UserRow | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(eq(sql`lower(${users.username})`, username.toLowerCase()))
    .limit(1)
  return row
}

export async function findUserById(db: Db, id: number): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1)
  return row
}

export const DEFAULT_TENANT_NAME = 'default'
export const INITIAL_PASSWORD_FILE = 'initial-admin-password'

/**
 * On an empty database: the default tenant (id 1) and the `admin` user, with
 * OPENACE_ADMIN_PASSWORD or a random password printed once and kept 0600 in DATA_DIR.
 */
export async function bootstrap(ctx: AppContext, print: (line: string) => void = console.log): Promise<void> {
  const { db } = ctx
  const [tenantCount] = await db.select({ n: count() }).from(tenants)
  if (!tenantCount || tenantCount.n === 0) {
    await db.insert(tenants).values({ name: DEFAULT_TENANT_NAME }).onConflictDoNothing()
  }
  const [userCount] = await db.select({ n: count() }).from(users)
  if (userCount && userCount.n > 0) return
  const [tenant] = await db.select().from(tenants).orderBy(asc(tenants.id)).limit(1)
  const fromEnv = ctx.config.adminPassword
  const password = fromEnv ?? randomBytes(18).toString('base64url')
  const inserted = await db
    .insert(users)
    .values({
      tenantId: tenant!.id,
      username: 'admin',
      role: 'system_admin',
      passwordHash: await hashPassword(password),
    })
    .onConflictDoNothing()
    .returning({ id: users.id })
  if (inserted.length === 0) return
  await ctx.audit(
    'user.bootstrap',
    { type: 'system', name: 'system' },
    { type: 'user', id: inserted[0]!.id },
    {
      password_source: fromEnv ? 'env' : 'generated',
    },
  )
  if (fromEnv) {
    ctx.log.info('created the admin user with OPENACE_ADMIN_PASSWORD')
    return
  }
  mkdirSync(ctx.config.dataDir, { recursive: true })
  const file = join(ctx.config.dataDir, INITIAL_PASSWORD_FILE)
  writeFileSync(file, `${password}\n`, { mode: 0o600 })
  chmodSync(file, 0o600)
  print(
    [
      '',
      '  Created the first administrator.',
      '    username: admin',
      `    password: ${password}`,
      `  It is shown once; a copy is in ${file} (mode 0600). Change it after logging in.`,
      '',
    ].join('\n'),
  )
}
