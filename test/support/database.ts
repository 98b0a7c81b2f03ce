// A fresh, migrated database for each test: a clone of a PGlite template dump in memory, or,
// with DATABASE_URL set, a new Postgres database created from a migrated template database.
import { randomBytes } from 'node:crypto'
import postgres from 'postgres'
import { type Database, openDatabase, rawClient } from '../../server/db/index.ts'
import { migrateDatabase } from '../../server/db/migrate.ts'

export const TEST_DATABASE_URL = process.env.DATABASE_URL || undefined
const PREFIX = 'oa_t_'

let pgliteTemplate: Promise<Blob> | undefined
let postgresTemplate: Promise<string> | undefined
const created = new Set<string>()

function adminSql() {
  return postgres(TEST_DATABASE_URL!, { max: 1, onnotice: () => {} })
}

export function databaseUrlFor(name: string): string {
  const url = new URL(TEST_DATABASE_URL!)
  url.pathname = `/${name}`
  return url.toString()
}

async function makePostgresTemplate(): Promise<string> {
  const name = `${PREFIX}tpl_${process.pid}_${randomBytes(3).toString('hex')}`
  const sql = adminSql()
  try {
    await sql.unsafe(`create database "${name}"`)
  } finally {
    await sql.end()
  }
  created.add(name)
  const db = await openDatabase({ url: databaseUrlFor(name), maxConnections: 1 })
  try {
    await migrateDatabase(db)
  } finally {
    await db.close()
  }
  return name
}

async function makePgliteTemplate(): Promise<Blob> {
  const db = await openDatabase({ dataDir: 'memory://' })
  try {
    await migrateDatabase(db)
    return await rawClient(db).pglite!.dumpDataDir('none')
  } finally {
    await db.close()
  }
}

/** A new empty Postgres database (migrated) and its URL; dropped by dropTestDatabases(). */
export async function createPostgresTestDatabase(): Promise<{ name: string; url: string }> {
  postgresTemplate ??= makePostgresTemplate()
  const template = await postgresTemplate
  const name = `${PREFIX}${process.pid}_${randomBytes(4).toString('hex')}`
  const sql = adminSql()
  try {
    await sql.unsafe(`create database "${name}" template "${template}"`)
  } finally {
    await sql.end()
  }
  created.add(name)
  return { name, url: databaseUrlFor(name) }
}

export async function openTestDatabase(): Promise<Database & { testName?: string }> {
  if (TEST_DATABASE_URL) {
    const { name, url } = await createPostgresTestDatabase()
    // A short idle timeout: a connection the driver opened during shutdown closes by itself
    // instead of holding the database until the drop has to force it.
    const db = await openDatabase({ url, maxConnections: 5, idleTimeoutSeconds: 1 })
    return Object.assign(db, { testName: name })
  }
  pgliteTemplate ??= makePgliteTemplate()
  return openDatabase({ dataDir: 'memory://', loadDataDir: await pgliteTemplate })
}

/** How long a drop waits for the test's own connections to finish closing before forcing it. */
const DROP_GRACE_MS = 3000

/**
 * Drops a test database. Forcing it at once would reset connections the driver is still
 * closing, and a reset socket surfaces as an unhandled error in whichever test runs next.
 */
export async function dropTestDatabase(name: string): Promise<void> {
  if (!TEST_DATABASE_URL) return
  const sql = adminSql()
  try {
    const deadline = Date.now() + DROP_GRACE_MS
    for (;;) {
      try {
        await sql.unsafe(`drop database if exists "${name}"`)
        break
      } catch (error) {
        if ((error as { code?: string }).code !== '55006' || Date.now() > deadline) {
          await sql.unsafe(`drop database if exists "${name}" with (force)`)
          break
        }
        await Bun.sleep(50)
      }
    }
    created.delete(name)
  } finally {
    await sql.end()
  }
}

export async function dropTestDatabases(): Promise<void> {
  for (const name of [...created].sort().reverse()) await dropTestDatabase(name).catch(() => {})
}
