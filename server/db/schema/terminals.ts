// Web terminals: one row per shell a user opened on a machine (the shell itself and its
// scrollback live on the agent). The row says whose it is, where it runs, and, once closed,
// why and how many bytes went each way; the content is never stored.
import { bigint, index, integer, pgTable, text, uuid } from 'drizzle-orm/pg-core'
import { belongsToUser, tenants } from './identity.ts'
import { belongsToMachine } from './machines.ts'
import { sessions } from './sessions.ts'
import { createdAt, tz } from './timestamps.ts'

export const TERMINAL_STATUSES = ['open', 'closed'] as const
export type TerminalStatus = (typeof TERMINAL_STATUSES)[number]

export const terminals = pgTable(
  'terminals',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    tenantId: integer('tenant_id')
      .notNull()
      .references(() => tenants.id),
    machineId: belongsToMachine(),
    userId: belongsToUser(),
    /** Opened beside this session (its project is the working directory); null = the machine's own. */
    sessionId: uuid('session_id').references(() => sessions.id, { onDelete: 'set null' }),
    cwd: text('cwd').notNull(),
    status: text('status', { enum: TERMINAL_STATUSES }).notNull().default('open'),
    /** Keystroke bytes sent to the shell and output bytes delivered to browsers. */
    bytesIn: bigint('bytes_in', { mode: 'number' }).notNull().default(0),
    bytesOut: bigint('bytes_out', { mode: 'number' }).notNull().default(0),
    createdAt: createdAt(),
    closedAt: tz('closed_at'),
    closeReason: text('close_reason'),
  },
  (t) => [index('terminals_owner_idx').on(t.userId, t.machineId, t.status)],
)
