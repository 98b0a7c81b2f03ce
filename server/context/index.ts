// Everything a capability needs from the running server, handed to each plugin factory:
// settings, database, logger, audit and the clock. One object per server instance, so
// tests can run several instances in one process.
import { randomUUID } from 'node:crypto'
import { type AuditFn, createAuditor } from '../audit/service.ts'
import type { Config } from '../config.ts'
import type { Database, Db } from '../db/index.ts'
import { inTransaction, type Tx } from '../db/transaction.ts'
import type { Logger } from '../log.ts'

export interface AppContext {
  /** Distinguishes server instances: Elysia dedups named plugins per instance with it. */
  id: string
  config: Config
  database: Database
  db: Db
  log: Logger
  audit: AuditFn
  now(): Date
  /** Runs `work` in `within` (the caller's transaction) or a new one; see db/transaction.ts. */
  transaction<T>(work: (tx: Tx) => Promise<T>, within?: Tx): Promise<T>
  /** Clean-up hooks run on shutdown, newest first (timers, listeners, open channels). */
  onClose(fn: () => void | Promise<void>): void
  close(): Promise<void>
}

export function createContext(config: Config, database: Database, log: Logger): AppContext {
  const closers: Array<() => void | Promise<void>> = []
  return {
    id: randomUUID(),
    config,
    database,
    db: database.db,
    log,
    audit: createAuditor(database.db, log),
    now: () => new Date(),
    transaction: (work, within) =>
      inTransaction(database.db, work, within, (error) => log.warn('after-commit step failed', { error })),
    onClose: (fn) => {
      closers.push(fn)
    },
    async close() {
      for (const fn of closers.reverse()) {
        try {
          await fn()
        } catch (cause) {
          log.warn('shutdown hook failed', { error: cause })
        }
      }
      closers.length = 0
    },
  }
}
