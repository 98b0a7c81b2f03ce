// Builds a running server from settings: open and migrate the database, seed the first admin,
// compose the app. Shared by the Bun entry (main.ts), the Deno entry and the tests.
import { join } from 'node:path'
import { createApp } from './app.ts'
import { bootstrap } from './auth/users.ts'
import type { Config } from './config.ts'
import { type AppContext, createContext } from './context/index.ts'
import { type Database, openDatabase } from './db/index.ts'
import { migrateDatabase } from './db/migrate.ts'
import { hostTrustWarning } from './http/public-url.ts'
import { createLogger, type Logger } from './log.ts'

export interface PreparedServer {
  app: ReturnType<typeof createApp>
  ctx: AppContext
  database: Database
  /**
   * Shuts down in the one safe order: background work and agent channels first (so handlers of
   * the connections about to drop know the server is going away), then the listener, then the
   * database (PGlite must be closed cleanly).
   */
  close(stopListening?: () => Promise<unknown>): Promise<void>
}

export interface PrepareOptions {
  log?: Logger
  /** An already-open database (tests pass a per-test one). */
  database?: Database
  /** Where the first admin's generated password is printed. */
  print?: (line: string) => void
}

export function embeddedDataDir(config: Config): string {
  return join(config.dataDir, 'pg')
}

export async function prepareServer(config: Config, options: PrepareOptions = {}): Promise<PreparedServer> {
  const log = options.log ?? createLogger(config.logLevel)
  const database =
    options.database ?? (await openDatabase({ url: config.databaseUrl, dataDir: embeddedDataDir(config) }))
  try {
    await migrateDatabase(database)
    const ctx = createContext(config, database, log)
    const hostWarning = hostTrustWarning(config)
    if (hostWarning) log.warn(hostWarning)
    await bootstrap(ctx, options.print)
    const app = createApp(ctx)
    let closed = false
    return {
      app,
      ctx,
      database,
      async close(stopListening) {
        if (closed) return
        closed = true
        await ctx.close()
        await stopListening?.().catch(() => {})
        await database.close()
      },
    }
  } catch (cause) {
    await database.close()
    throw new Error('start server', { cause })
  }
}
