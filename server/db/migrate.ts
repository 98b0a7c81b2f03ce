// Applies the committed drizzle-kit migrations. On real Postgres an advisory lock makes
// concurrent start-ups of several instances take turns instead of racing.
import { fileURLToPath } from 'node:url'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { type Database, rawClient } from './index.ts'

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url))
const MIGRATION_LOCK_ID = 0x0a_ce_0001

export async function migrateDatabase(database: Database): Promise<void> {
  const { pglite, sql } = rawClient(database)
  if (pglite) {
    await migratePglite(drizzlePglite({ client: pglite }), { migrationsFolder: MIGRATIONS_FOLDER })
    return
  }
  if (!sql) throw new Error('migrate: unknown database client')
  const conn = await sql.reserve()
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
    try {
      await migratePostgres(drizzlePostgres({ client: conn }), { migrationsFolder: MIGRATIONS_FOLDER })
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`
    }
  } finally {
    conn.release()
  }
}
