// Listeners grouped by a key (a session id): what an event bus keeps behind its one LISTEN, so a
// notice for one key calls only that key's listeners. A key whose last listener leaves is
// dropped, so the map holds only what someone still watches.
export class KeyedListeners<Args extends unknown[]> {
  private readonly byKey = new Map<string, Set<(...args: Args) => void>>()

  /** Adds `listener` under `key`; returns the function that removes it. */
  add(key: string, listener: (...args: Args) => void): () => void {
    let set = this.byKey.get(key)
    if (!set) {
      set = new Set()
      this.byKey.set(key, set)
    }
    const listeners = set
    listeners.add(listener)
    return () => {
      listeners.delete(listener)
      if (listeners.size === 0 && this.byKey.get(key) === listeners) this.byKey.delete(key)
    }
  }

  /** Whether anyone listens under `key`. */
  has(key: string): boolean {
    return this.byKey.has(key)
  }

  /** Calls each listener of `key` once, even if one of them removes itself or another meanwhile. */
  emit(key: string, ...args: Args): void {
    const listeners = this.byKey.get(key)
    if (listeners) for (const fn of [...listeners]) fn(...args)
  }
}
