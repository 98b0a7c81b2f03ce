// The names an audit row keeps: what its actor and target were called when it was written, so
// the trail reads in names after either is renamed or deleted. A caller that has the name passes
// it (a delete knows what it deleted); otherwise it is looked up once here, by target type.
import { eq } from 'drizzle-orm'
import type { Db } from '../db/index.ts'
import {
  apiKeyStore,
  personalAccessTokens,
  remoteMachines,
  sessions,
  tenants,
  users,
} from '../db/schema/index.ts'

type Lookup = (db: Db, id: string) => Promise<string | null | undefined>

const isInt = (id: string) => /^\d{1,9}$/.test(id)
const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)

const LOOKUPS: Record<string, Lookup> = {
  user: async (db, id) =>
    isInt(id)
      ? (
          await db
            .select({ n: users.username })
            .from(users)
            .where(eq(users.id, Number(id)))
            .limit(1)
        )[0]?.n
      : null,
  tenant: async (db, id) =>
    isInt(id)
      ? (
          await db
            .select({ n: tenants.name })
            .from(tenants)
            .where(eq(tenants.id, Number(id)))
            .limit(1)
        )[0]?.n
      : null,
  machine: async (db, id) =>
    (
      await db
        .select({ n: remoteMachines.name })
        .from(remoteMachines)
        .where(eq(remoteMachines.machineId, id))
        .limit(1)
    )[0]?.n,
  api_key: async (db, id) =>
    isInt(id)
      ? (
          await db
            .select({ n: apiKeyStore.keyName })
            .from(apiKeyStore)
            .where(eq(apiKeyStore.id, Number(id)))
            .limit(1)
        )[0]?.n
      : null,
  personal_access_token: async (db, id) =>
    isInt(id)
      ? (
          await db
            .select({ n: personalAccessTokens.name })
            .from(personalAccessTokens)
            .where(eq(personalAccessTokens.id, Number(id)))
            .limit(1)
        )[0]?.n
      : null,
  session: async (db, id) => {
    if (!isUuid(id)) return null
    const [row] = await db
      .select({ title: sessions.title, path: sessions.projectPath })
      .from(sessions)
      .where(eq(sessions.id, id))
      .limit(1)
    return row ? (row.title ?? row.path) : null
  },
}

/** The current name of a target (or a user actor), or null when it has none or is gone. */
export async function nameOf(db: Db, type: string, id: string | null): Promise<string | null> {
  const lookup = LOOKUPS[type]
  if (!lookup || id === null) return null
  return (await lookup(db, id)) ?? null
}
