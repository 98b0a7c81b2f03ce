// Request bodies of the self-update routes.
import { t } from 'elysia'

export const UpdateRequestBody = t.Object({
  /** Also while sessions are live: they are cut. Without it the update waits for them to end. */
  force: t.Optional(t.Boolean()),
})
