// This instance's memory of who may do what, so the chat fast path authorizes without a database
// round trip: login sessions (token hash -> user) and (user, session) standings. Only what grants
// access is kept (a refusal is always read again), and every change that can take access away
// drops it at once: publishAccessRevoked drops this instance's entries before it NOTIFYs, and
// every instance drops its own when the `access.revoked` notice arrives. An entry also lives at
// most ACCESS_CACHE_TTL_MS (config), which bounds what a lost notice (LISTEN down) or a change that grants
// or renames (not published) leaves behind on another instance. A session's state change drops
// its standings the same way (sessions/events.ts, locally and by its NOTIFY).
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import type { AccessScope } from './events.ts'
import type { LoadedStanding } from './rule.ts'

/** Most entries of each kind; past it the oldest go first. */
export const ACCESS_CACHE_MAX_ENTRIES = 10_000

export interface CachedLogin {
  user: UserRow
  expiresAt: Date
  lastSeenAt: Date
}

interface Entry<T> {
  value: T
  userId: number
  machineId: string | null
  sessionId: string | null
  storedAt: number
}

export interface AccessCache {
  /**
   * The generation to pass to a put: read it before loading, so a load that raced a drop
   * (it read the old facts, the drop came before it finished) is not stored.
   */
  generation(): number
  login(tokenHash: string): CachedLogin | undefined
  putLogin(tokenHash: string, login: CachedLogin, generation: number): void
  standing(userId: number, sessionId: string): LoadedStanding | undefined
  putStanding(userId: number, sessionId: string, standing: LoadedStanding, generation: number): void
  /** Drops every entry the scope may touch (an `access.revoked` scope), or one login. */
  drop(scope: AccessScope & { token_hash?: string }): void
  /** Keeps nothing until `ready` too (another LISTEN whose notices drop entries). */
  dependOn(ready: Promise<void>): void
}

export function createAccessCache(ctx: AppContext): AccessCache {
  const logins = new Map<string, Entry<CachedLogin>>()
  const standings = new Map<string, Entry<LoadedStanding>>()
  let generation = 0
  // Nothing is kept until this instance hears the notices that drop entries.
  let waiting = 0
  const dependOn = (ready: Promise<void>) => {
    waiting++
    void ready.then(() => waiting--)
  }
  dependOn(
    ctx.state.accessEvents.ready.then(() => {
      ctx.state.accessEvents.listeners.add((event) => cache.drop(event.scope))
    }),
  )

  const fresh = <T>(map: Map<string, Entry<T>>, key: string): T | undefined => {
    const entry = map.get(key)
    if (!entry) return undefined
    if (ctx.now().getTime() - entry.storedAt <= ctx.config.accessCacheTtlMs) return entry.value
    map.delete(key)
    return undefined
  }
  const put = <T>(
    map: Map<string, Entry<T>>,
    key: string,
    entry: Omit<Entry<T>, 'storedAt'>,
    gen: number,
  ) => {
    if (waiting > 0 || gen !== generation || ctx.config.accessCacheTtlMs === 0) return
    if (map.size >= ACCESS_CACHE_MAX_ENTRIES) map.delete(map.keys().next().value!)
    map.delete(key)
    map.set(key, { ...entry, storedAt: ctx.now().getTime() })
  }
  const dropWhere = <T>(map: Map<string, Entry<T>>, hit: (entry: Entry<T>, key: string) => boolean) => {
    for (const [key, entry] of map) if (hit(entry, key)) map.delete(key)
  }

  const cache: AccessCache = {
    generation: () => generation,
    login: (tokenHash) => fresh(logins, tokenHash),
    putLogin(tokenHash, login, gen) {
      put(logins, tokenHash, { value: login, userId: login.user.id, machineId: null, sessionId: null }, gen)
    },
    standing: (userId, sessionId) => fresh(standings, `${userId}:${sessionId}`),
    putStanding(userId, sessionId, standing, gen) {
      const machineId = standing.session.remoteMachineId
      put(standings, `${userId}:${sessionId}`, { value: standing, userId, machineId, sessionId }, gen)
    },
    dependOn,
    drop(scope) {
      generation++
      const sessions = new Set(scope.session_ids ?? [])
      const hit = (entry: Entry<unknown>) =>
        (scope.user_id !== undefined && entry.userId === scope.user_id) ||
        (scope.machine_id !== undefined && entry.machineId === scope.machine_id) ||
        (entry.sessionId !== null && sessions.has(entry.sessionId))
      dropWhere(logins, (entry, key) => hit(entry) || key === scope.token_hash)
      dropWhere(standings, hit)
    },
  }
  return cache
}
