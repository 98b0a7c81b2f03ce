// `bun run db:migrate`: applies pending migrations to the configured database and exits.
import { loadConfig } from './config.ts'
import { openDatabase } from './db/index.ts'
import { migrateDatabase } from './db/migrate.ts'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(
    'Usage: bun run db:migrate\n\nApplies pending migrations to DATABASE_URL, or to the embedded database in DATA_DIR.',
  )
  process.exit(0)
}
const config = loadConfig()
const database = await openDatabase({ url: config.databaseUrl, dataDir: `${config.dataDir}/pg` })
try {
  console.log(
    `Applying migrations to ${database.kind === 'postgres' ? 'Postgres' : `embedded database in ${config.dataDir}/pg`}...`,
  )
  await migrateDatabase(database)
  console.log('Migrations applied.')
} finally {
  await database.close()
}
