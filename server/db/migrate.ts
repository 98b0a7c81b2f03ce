// Applies the committed drizzle-kit migrations. On real Postgres an advisory lock makes
// concurrent start-ups of several instances take turns instead of racing.
import { fileURLToPath } from 'node:url'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator'
import postgres from 'postgres'
import { type Database, rawClient } from './index.ts'

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../../drizzle', import.meta.url))
const MIGRATION_LOCK_ID = 0x0a_ce_0001

export async function migrateDatabase(database: Database): Promise<void> {
  const { pglite, url } = rawClient(database)
  if (pglite) {
    await migratePglite(drizzlePglite({ client: pglite }), { migrationsFolder: MIGRATIONS_FOLDER })
    return
  }
  if (!url) throw new Error('migrate: unknown database client')
  // One dedicated connection: the advisory lock belongs to the session that took it.
  const conn = postgres(url, { max: 1, onnotice: () => {} })
  try {
    await conn`select pg_advisory_lock(${MIGRATION_LOCK_ID})`
    try {
      await migratePostgres(drizzlePostgres({ client: conn }), { migrationsFolder: MIGRATIONS_FOLDER })
    } finally {
      await conn`select pg_advisory_unlock(${MIGRATION_LOCK_ID})`
    }
  } finally {
    await conn.end()
  }
}
