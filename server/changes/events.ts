// "This session's project changed" notices, from the agent's debounced watch to every browser
// with the changes panel open, on any instance (Postgres NOTIFY carries only the session id).
import type { AppContext } from '../context/index.ts'
import { KeyedListeners } from '../live/keyed-listeners.ts'

export const CHANGES_CHANNEL = 'oa_changes'

/** This instance's changes-panel listeners per session, behind one LISTEN (ctx.state.changesEvents). */
export interface ChangesEventRegistry {
  listeners: KeyedListeners<[]>
  ready: Promise<void>
}

export function createChangesEventRegistry(ctx: AppContext): ChangesEventRegistry {
  const listeners = new KeyedListeners<[]>()
  const ready = ctx.database
    .listen(CHANGES_CHANNEL, (sessionId) => listeners.emit(sessionId))
    .then((unlisten) => ctx.onClose(unlisten))
  return { listeners, ready }
}

export async function subscribeChanges(ctx: AppContext, sessionId: string, fn: () => void) {
  const reg = ctx.state.changesEvents
  await reg.ready
  return reg.listeners.add(sessionId, fn)
}

export async function publishChangesUpdated(ctx: AppContext, sessionId: string) {
  await ctx.database.notify(CHANGES_CHANNEL, sessionId)
}
