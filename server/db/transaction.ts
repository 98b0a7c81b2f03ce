// One unit of work: a drizzle transaction plus what must happen only once it has committed
// (NOTIFY, in-memory wake-ups, status events). Services that write take the caller's `tx`, so a
// route composes several writes into one transaction; a service given no `tx` opens its own.
import type { Db } from './index.ts'

type DrizzleTx = Parameters<Parameters<Db['transaction']>[0]>[0]
type AfterCommit = () => void | Promise<void>

export type Tx = DrizzleTx & {
  /** Runs `fn` after the outermost transaction commits; never when it rolls back. */
  afterCommit(fn: AfterCommit): void
}

/**
 * Runs `work` inside `outer` when given (joining the caller's transaction), else in a new
 * transaction whose after-commit hooks run once it has committed. A failing hook is reported
 * to `onHookError` and does not undo the committed work.
 */
export async function inTransaction<T>(
  db: Db,
  work: (tx: Tx) => Promise<T>,
  outer: Tx | undefined,
  onHookError: (error: unknown) => void,
): Promise<T> {
  if (outer) return work(outer)
  const hooks: AfterCommit[] = []
  const result = await db.transaction((raw) =>
    work(Object.assign(raw, { afterCommit: (fn: AfterCommit) => void hooks.push(fn) })),
  )
  for (const fn of hooks) {
    try {
      await fn()
    } catch (error) {
      onHookError(error)
    }
  }
  return result
}
