// Request bodies and answers of the self-update routes.
import { t } from 'elysia'
import { MachineSummary } from '../machines/model.ts'

export const UpdateRequestBody = t.Object({
  /** Also while sessions are live: they are cut. Without it the update waits for them to end. */
  force: t.Optional(t.Boolean()),
})

/** One machine's "update now" (service.ts requestUpdate). */
export const UpdateRequested = t.Object({
  machine_id: MachineSummary.properties.machine_id,
  update: MachineSummary.properties.update,
  outcome: t.String({
    description:
      'sent, waiting_offline, waiting_sessions, or why it was skipped (in_flight, auto_off, failed_before, outside_window, ...)',
  }),
})

/** "Update all outdated": who was asked and who was skipped with why (requestUpdateAll). */
export const UpdateAllRequested = t.Object({
  version: t.String(),
  requested: t.Array(UpdateRequested),
  skipped: t.Array(t.Object({ machine_id: MachineSummary.properties.machine_id, reason: t.String() })),
})
