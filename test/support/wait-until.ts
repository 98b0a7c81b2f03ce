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
/** Polls start quick (in-process state settles in milliseconds) and slow down for remote probes. */
const FIRST_POLL_MS = 5
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
  let pollMs = FIRST_POLL_MS
  let last: { value: unknown } | { error: unknown } = { value: undefined }
  for (;;) {
    try {
      const value = await check()
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
    pollMs = Math.min(pollMs * 2, LONGEST_POLL_MS)
  }
}
