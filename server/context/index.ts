// Everything a capability needs from the running server, handed to each plugin factory:
// settings, database, logger, audit, the clock and the instance's in-memory state (state.ts).
// One object per server instance, so tests can run several instances in one process. Time is
// read only through now(), so a test can move the clock of one instance.
import { randomUUID } from 'node:crypto'
import {
  type AuditEventFilter,
  type AuditFn,
  createAuditor,
  type RecentAuditEvents,
  recentAuditEvents,
} from '../audit/service.ts'
import type { Config } from '../config.ts'
import type { Database, Db } from '../db/index.ts'
import { inTransaction, type Tx } from '../db/transaction.ts'
import type { Logger } from '../log.ts'
import { createServerState, peekServerState, type ServerState } from './state.ts'

export interface AppContext {
  /** Distinguishes server instances: Elysia dedups named plugins per instance with it. */
  id: string
  config: Config
  database: Database
  db: Db
  log: Logger
  audit: AuditFn
  /** Counts recorded audit events (rate limits counted from the log: auth/rate-limit.ts). */
  auditEvents(filter: AuditEventFilter, since: Date): Promise<RecentAuditEvents>
  now(): Date
  /** What this instance keeps in memory (hubs, caches, buffers), each made on first use. */
  state: ServerState
  /** A state slot if something has made it already; never makes one. */
  peek<K extends keyof ServerState>(slot: K): ServerState[K] | undefined
  /** Runs `work` in `within` (the caller's transaction) or a new one; see db/transaction.ts. */
  transaction<T>(work: (tx: Tx) => Promise<T>, within?: Tx): Promise<T>
  /**
   * Clean-up hooks run on shutdown, newest first (timers, listeners, open channels). One added
   * while closing runs in turn; one added after close() runs at once, so nothing a late caller
   * started outlives the instance.
   */
  onClose(fn: () => void | Promise<void>): void
  close(): Promise<void>
}

export function createContext(config: Config, database: Database, log: Logger): AppContext {
  const closers: Array<() => void | Promise<void>> = []
  let phase: 'open' | 'closing' | 'closed' = 'open'
  let state: ServerState | undefined
  const runHook = async (fn: () => void | Promise<void>) => {
    try {
      await fn()
    } catch (cause) {
      log.warn('shutdown hook failed', { error: cause })
    }
  }
  const ctx: AppContext = {
    id: randomUUID(),
    config,
    database,
    db: database.db,
    log,
    audit: createAuditor(database.db, log),
    auditEvents: (filter, since) => recentAuditEvents(database.db, filter, since),
    now: () => new Date(),
    get state() {
      state ??= createServerState(ctx)
      return state
    },
    peek: (slot) => peekServerState(ctx.state, slot),
    transaction: (work, within) =>
      inTransaction(database.db, work, within, (error) => log.warn('after-commit step failed', { error })),
    onClose: (fn) => {
      if (phase === 'closed') void runHook(fn)
      else closers.push(fn)
    },
    async close() {
      phase = 'closing'
      while (closers.length) await runHook(closers.pop()!)
      phase = 'closed'
    },
  }
  return ctx
}
