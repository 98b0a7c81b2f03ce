// What a person said to a session and the tool-permission questions the CLI asked: the
// browser renders a conversation from these plus the structured events on session_output.
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core'
import { users } from './identity.ts'
import { sessions } from './sessions.ts'
import { createdAt, tz } from './timestamps.ts'

export const PERMISSION_DECISIONS = ['pending', 'allowed', 'denied'] as const
export type PermissionDecision = (typeof PERMISSION_DECISIONS)[number]

export const sessionMessages = pgTable(
  'session_messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    userId: integer('user_id').references(() => users.id, { onDelete: 'set null' }),
    content: text('content').notNull(),
    /** The output seq the session had reached when the message was sent: places it in the stream. */
    afterSeq: integer('after_seq').notNull().default(-1),
    createdAt: createdAt(),
  },
  (t) => [index('session_messages_session_idx').on(t.sessionId, t.createdAt)],
)

export const permissionRequests = pgTable(
  'permission_requests',
  {
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    requestId: text('request_id').notNull(),
    toolName: text('tool_name').notNull(),
    input: jsonb('input').$type<unknown>(),
    description: text('description'),
    decision: text('decision', { enum: PERMISSION_DECISIONS }).notNull().default('pending'),
    always: boolean('always').notNull().default(false),
    seq: integer('seq'),
    createdAt: createdAt(),
    answeredAt: tz('answered_at'),
    answeredBy: integer('answered_by').references(() => users.id, { onDelete: 'set null' }),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.requestId] })],
)

/** "Always allow" answers: a later request of the same tool in the session is allowed without asking. */
export const sessionPermissionRules = pgTable(
  'session_permission_rules',
  {
    sessionId: uuid('session_id')
      .notNull()
      .references(() => sessions.id, { onDelete: 'cascade' }),
    toolName: text('tool_name').notNull(),
    createdBy: integer('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.sessionId, t.toolName] })],
)
