// Every timestamp is timestamptz and travels as an ISO-8601 UTC string ending in Z.
import { timestamp } from 'drizzle-orm/pg-core'

export const tz = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' })
export const createdAt = () => tz('created_at').notNull().defaultNow()
