// Whether the database holds every migration this build ships: the hashes drizzle recorded in
// drizzle.__drizzle_migrations against the committed journal (drizzle/meta/_journal.json).
import { sql } from 'drizzle-orm'
import { readMigrationFiles } from 'drizzle-orm/migrator'
import type { AppContext } from '../context/index.ts'
import { resultRows } from '../db/index.ts'
import { MIGRATIONS_FOLDER } from '../db/migrate.ts'

let shipped: Array<{ hash: string; folderMillis: number }> | undefined

/** The build's migrations, read once: the folder does not change while the process runs. */
function shippedMigrations() {
  shipped ??= readMigrationFiles({ migrationsFolder: MIGRATIONS_FOLDER }).map(({ hash, folderMillis }) => ({
    hash,
    folderMillis,
  }))
  return shipped
}

/** Null when all are applied, else a sentence saying what is missing. */
export async function missingMigrations(ctx: AppContext): Promise<string | null> {
  let applied: Set<string>
  try {
    const result = await ctx.db.execute(sql`select hash from drizzle.__drizzle_migrations`)
    const rows = resultRows<{ hash: string }>(result)
    applied = new Set(rows.map((r) => r.hash))
  } catch {
    return 'The migrations table is missing; run bun run db:migrate'
  }
  const missing = shippedMigrations().filter((m) => !applied.has(m.hash))
  if (!missing.length) return null
  return `${missing.length} of ${shippedMigrations().length} database migrations are not applied; run bun run db:migrate`
}
