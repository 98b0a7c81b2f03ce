// Liveness (/api/health: the process answers) and readiness (/api/ready: the database answers
// and holds every migration this build ships), for load balancers and orchestrators.
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { missingMigrations } from './migrations.ts'

export function healthRoutes(ctx: AppContext) {
  return new Elysia({ name: 'health', seed: ctx.id, prefix: '/api' })
    .get('/health', () => ({ status: 'ok' }), { detail: { summary: 'Liveness' } })
    .get(
      '/ready',
      async () => {
        try {
          await ctx.database.ping()
        } catch {
          throw new HttpError(503, 'Database is not reachable', 'unavailable')
        }
        const missing = await missingMigrations(ctx)
        if (missing) throw new HttpError(503, missing, 'migrations_pending')
        return { status: 'ready', database: ctx.database.kind, migrations: 'applied' }
      },
      { detail: { summary: 'Readiness: the database answers and its migrations are applied' } },
    )
}
