// Keeps a page's data current from its live stream instead of a timer: the page's refresh runs
// when the stream opens (and reopens) and after each change it cares about. Refreshes never
// overlap: changes arriving during one make exactly one more run after it, so a burst of
// changes costs at most two fetches. Use inside a component: it stops when the component goes.
import { type ChangedEvent, type LiveTopic, watchLive } from './api.ts'

export interface LiveRefreshOptions {
  /** Which changes need a refresh (default: all). */
  when?: (event: ChangedEvent) => boolean
  /** Every change, before any refresh (e.g. to follow a registration token). */
  onChanged?: (event: ChangedEvent) => void
  onRevoked?: (reason: string) => void
}

/** Runs `refresh` on open and on relevant changes, one run at a time. */
export function coalesced(refresh: () => Promise<void>): () => void {
  let running = false
  let again = false
  const run = async () => {
    if (running) {
      again = true
      return
    }
    running = true
    try {
      do {
        again = false
        await refresh().catch(() => {})
      } while (again)
    } finally {
      running = false
    }
  }
  return () => void run()
}

export function liveRefresh(
  topic: LiveTopic,
  refresh: () => Promise<void>,
  options: LiveRefreshOptions = {},
) {
  $effect(() => {
    const kick = coalesced(refresh)
    return watchLive(topic, {
      onReady: kick,
      onChanged(event) {
        options.onChanged?.(event)
        if (!options.when || options.when(event)) kick()
      },
      onRevoked: options.onRevoked,
    })
  })
}
