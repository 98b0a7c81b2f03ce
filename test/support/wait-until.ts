// The one way a test waits on a condition (server, agent and test/ alike): poll `check` until it
// returns a truthy value, and on timeout say what was awaited and what was last seen. No imports,
// so the agent's tests can use it without pulling in server code.

export interface WaitUntilOptions {
  /** What is awaited, for the timeout message ("machine online"). */
  what: string
  /** Real time to wait before giving up. */
  timeoutMs?: number
}

export const WAIT_UNTIL_TIMEOUT_MS = 5000
/**
 * A synchronous check reads in-process state: cheap, and it may hold only for a moment (output a
 * fake transport saw once before a resend), so it is polled every few milliseconds. An
 * asynchronous one (HTTP, database) starts as quick and backs off, not to load a busy machine.
 */
const QUICK_POLL_MS = 5
const LONGEST_POLL_MS = 100

type Falsy = false | 0 | '' | null | undefined

/**
 * Resolves with `check`'s first truthy value. A check that throws counts as "not yet"; the last
 * error (or value) seen is in the timeout error, so a failure says why it never held.
 */
export async function waitUntil<T>(
  check: () => T | Promise<T>,
  { what, timeoutMs = WAIT_UNTIL_TIMEOUT_MS }: WaitUntilOptions,
): Promise<Exclude<T, Falsy>> {
  const deadline = Date.now() + timeoutMs
  let pollMs = QUICK_POLL_MS
  let last: { value: unknown } | { error: unknown } = { value: undefined }
  for (;;) {
    let quick = true
    try {
      const result = check()
      quick = !(result instanceof Promise)
      const value = await result
      if (value) return value as Exclude<T, Falsy>
      last = { value }
    } catch (error) {
      last = { error }
    }
    if (Date.now() >= deadline) {
      const seen =
        'error' in last
          ? `last error: ${last.error instanceof Error ? last.error.message : Bun.inspect(last.error)}`
          : `last value: ${Bun.inspect(last.value)}`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (${seen})`, {
        cause: 'error' in last ? last.error : undefined,
      })
    }
    await Bun.sleep(Math.min(pollMs, Math.max(0, deadline - Date.now())))
    pollMs = quick ? QUICK_POLL_MS : Math.min(pollMs * 2, LONGEST_POLL_MS)
  }
}
