// GET /api/usage/events: the usage views' live stream. The ledger announces each flushed batch
// (its users and keys); a reader hears of usage they may read through GET /api/usage: their
// own, and a system admin anyone's.
import type { UserRow } from '../auth/users.ts'
import type { LiveChange } from '../live/bus.ts'
import type { ChangedEvent } from '../live/stream.ts'

export function usageChangeFor(user: UserRow, change: LiveChange): ChangedEvent | null {
  if (change.topic !== 'usage') return null
  const ids = user.role === 'system_admin' ? change.user_ids : change.user_ids.filter((id) => id === user.id)
  return { topic: 'usage', kind: 'recorded', ids }
}
