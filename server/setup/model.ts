// The response schema of GET /api/setup: each checklist step (service.ts SETUP_STEPS) and whether it is done.
import { t } from 'elysia'
import { oneOf } from '../http/schema.ts'
import { SETUP_STEPS } from './service.ts'

export const SetupState = t.Object({
  steps: t.Array(t.Object({ id: oneOf(SETUP_STEPS), done: t.Boolean() })),
  complete: t.Boolean(),
})
