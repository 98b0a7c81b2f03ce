// Opens the database: the `postgres` driver when DATABASE_URL is set, else embedded PGlite
// under DATA_DIR. Both sit behind one drizzle type plus LISTEN/NOTIFY, so nothing above
// this module knows which one it talks to.
import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core'
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite'
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js'
import postgres from 'postgres'
import * as schema from './schema/index.ts'

export type Db = PgDatabase<PgQueryResultHKT, typeof schema>
export type DatabaseKind = 'pglite' | 'postgres'
export type Unlisten = () => Promise<void>

/** The rows of a raw `db.execute`: postgres-js answers an array, PGlite an object with `rows`. */
export function resultRows<T>(result: unknown): T[] {
  return (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as T[]
}

export interface Database {
  db: Db
  kind: DatabaseKind
  /** Subscribes to a NOTIFY channel; works across server instances on real Postgres. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<Unlisten>
  notify(channel: string, payload: string): Promise<void>
  ping(): Promise<void>
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  url?: string
  /** Directory for PGlite's files, or `memory://` for a throwaway database. */
  dataDir?: string
  /** A PGlite data-dir dump to start from (tests clone a migrated template this way). */
  loadDataDir?: Blob
  /** Pool size for the postgres driver. */
  maxConnections?: number
  /** Idle pool connections are closed after this many seconds. */
  idleTimeoutSeconds?: number
}

export const DEFAULT_POOL_SIZE = 10
/** Idle connections go back to the server after this long (seconds). */
export const DEFAULT_IDLE_TIMEOUT_S = 30

export async function openDatabase(options: OpenDatabaseOptions): Promise<Database> {
  if (options.url) {
    return openPostgres(
      options.url,
      options.maxConnections ?? DEFAULT_POOL_SIZE,
      options.idleTimeoutSeconds ?? DEFAULT_IDLE_TIMEOUT_S,
    )
  }
  return openPglite(options.dataDir ?? 'memory://', options.loadDataDir)
}

async function openPglite(dataDir: string, loadDataDir?: Blob): Promise<Database> {
  if (!dataDir.startsWith('memory://')) mkdirSync(dataDir, { recursive: true })
  const client = await PGlite.create(dataDir, loadDataDir ? { loadDataDir } : {})
  const db = drizzlePglite({ client, schema, casing: 'snake_case' }) as unknown as Db
  let closed = false
  return {
    db,
    kind: 'pglite',
    client,
    async listen(channel, onPayload) {
      const stop = await client.listen(channel, onPayload)
      return async () => {
        if (!closed) await stop()
      }
    },
    async notify(channel, payload) {
      await client.query('select pg_notify($1, $2)', [channel, payload])
    },
    async ping() {
      await client.query('select 1')
    },
    async close() {
      if (closed) return
      closed = true
      await client.close()
    },
  } as Database
}

async function openPostgres(url: string, max: number, idleTimeout: number): Promise<Database> {
  const sql = postgres(url, {
    max,
    idle_timeout: idleTimeout,
    onnotice: () => {},
    connection: { application_name: 'open-ace' },
  })
  const db = drizzlePostgres({ client: sql, schema, casing: 'snake_case' }) as unknown as Db
  // LISTEN set-ups still under way when the database closes are awaited first: ending the
  // pool under them would fail them with nobody left to catch it.
  const settingUp = new Set<Promise<unknown>>()
  return {
    db,
    kind: 'postgres',
    sql,
    url,
    async listen(channel, onPayload) {
      const pending = sql.listen(channel, onPayload)
      settingUp.add(pending)
      try {
        const sub = await pending
        return () => sub.unlisten()
      } finally {
        settingUp.delete(pending)
      }
    },
    async notify(channel, payload) {
      await sql.notify(channel, payload)
    },
    async ping() {
      await sql`select 1`
    },
    async close() {
      await Promise.allSettled([...settingUp])
      await sql.end({ timeout: 5 })
    },
  } as Database
}

/** The underlying driver handle, for the migrator and the test harness. */
export function rawClient(database: Database): { pglite?: PGlite; sql?: postgres.Sql; url?: string } {
  const d = database as Database & { client?: PGlite; sql?: postgres.Sql; url?: string }
  return { pglite: d.client, sql: d.sql, url: d.url }
}
