// Answers of requests sent with an Idempotency-Key header, kept for a day so a repeated request
// (a double click, a client retry) gets the first answer instead of doing the work again.
import { integer, jsonb, pgTable, primaryKey, text } from 'drizzle-orm/pg-core'
import { belongsToUser } from './identity.ts'
import { createdAt } from './timestamps.ts'

export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    userId: belongsToUser(),
    /** The operation the key belongs to (e.g. `POST /api/remote/sessions`). */
    scope: text('scope').notNull(),
    key: text('key').notNull(),
    /** Null while the first request is still being handled. */
    status: integer('status'),
    body: jsonb('body').$type<unknown>(),
    headers: jsonb('headers').$type<Record<string, string>>(),
    createdAt: createdAt(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.scope, t.key] })],
)
