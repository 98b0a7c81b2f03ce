// Reconnect delays: exponential growth from base to max with full jitter (each delay drawn
// uniformly between base and the current ceiling), so a fleet of agents does not reconnect
// in lockstep after a server restart. reset() after a healthy connection starts over.
export interface Backoff {
  /** The next delay in milliseconds; each call raises the ceiling until it reaches max. */
  next(): number
  reset(): void
  readonly attempt: number
}

export function createBackoff(baseMs: number, maxMs: number, random: () => number = Math.random): Backoff {
  let attempt = 0
  return {
    next() {
      const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30))
      attempt++
      return baseMs + random() * (ceiling - baseMs)
    },
    reset() {
      attempt = 0
    },
    get attempt() {
      return attempt
    },
  }
}
