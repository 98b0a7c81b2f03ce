// "This session's project changed" notices, from the agent's debounced watch to every browser
// with the changes panel open, on any instance (Postgres NOTIFY carries only the session id).
import type { AppContext } from '../context/index.ts'

export const CHANGES_CHANNEL = 'oa_changes'

/** This instance's changes-panel listeners per session, behind one LISTEN (ctx.state.changesEvents). */
export interface ChangesEventRegistry {
  listeners: Map<string, Set<() => void>>
  ready: Promise<void>
}

export function createChangesEventRegistry(ctx: AppContext): ChangesEventRegistry {
  const listeners = new Map<string, Set<() => void>>()
  const ready = ctx.database
    .listen(CHANGES_CHANNEL, (sessionId) => {
      for (const fn of listeners.get(sessionId) ?? []) fn()
    })
    .then((unlisten) => ctx.onClose(unlisten))
  return { listeners, ready }
}

export async function subscribeChanges(ctx: AppContext, sessionId: string, fn: () => void) {
  const reg = ctx.state.changesEvents
  await reg.ready
  const set = reg.listeners.get(sessionId) ?? new Set()
  reg.listeners.set(sessionId, set)
  set.add(fn)
  return () => {
    set.delete(fn)
    if (set.size === 0) reg.listeners.delete(sessionId)
  }
}

export async function publishChangesUpdated(ctx: AppContext, sessionId: string) {
  await ctx.database.notify(CHANGES_CHANNEL, sessionId)
}
