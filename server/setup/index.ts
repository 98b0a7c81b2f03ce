// GET /api/setup: the first-run checklist for system admins (see service.ts).
import { Elysia } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { SetupState } from './model.ts'
import { setupState } from './service.ts'

export function setupRoutes(ctx: AppContext) {
  return new Elysia({ name: 'setup', seed: ctx.id, prefix: '/api/setup' })
    .use(authGuard(ctx))
    .get('/', () => setupState(ctx), {
      auth: 'system_admin',
      response: SetupState,
      detail: {
        summary:
          'First-run checklist: an enabled API key, a machine, a user, an assignment, a session; each done from the real state',
      },
    })
}
