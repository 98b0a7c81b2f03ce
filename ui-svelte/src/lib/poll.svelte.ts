// Re-runs a refresh on an interval while the page is visible, for lists that change on the
// server (machines going online). Use inside a component: it stops when the component goes.
const HIDDEN_CHECK_MS = 1000

export function pollWhileVisible(refresh: () => Promise<void>, intervalMs: number): void {
  $effect(() => {
    let timer: ReturnType<typeof setTimeout>
    let stopped = false
    const tick = async () => {
      if (document.visibilityState === 'visible') await refresh().catch(() => {})
      if (!stopped)
        timer = setTimeout(tick, document.visibilityState === 'visible' ? intervalMs : HIDDEN_CHECK_MS)
    }
    timer = setTimeout(tick, intervalMs)
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  })
}
