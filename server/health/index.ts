// Liveness (/api/health: the process answers) and readiness (/api/ready: the database answers
// and holds every migration this build ships), for load balancers and orchestrators.
import { Elysia, t } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { ErrorSchema, HttpError } from '../errors.ts'
import { missingMigrations } from './migrations.ts'

export function healthRoutes(ctx: AppContext) {
  return new Elysia({ name: 'health', seed: ctx.id, prefix: '/api' })
    .get('/health', () => ({ status: 'ok' as const }), {
      response: { 200: t.Object({ status: t.Literal('ok') }) },
      detail: { summary: 'Liveness' },
    })
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
        return { status: 'ready' as const, database: ctx.database.kind, migrations: 'applied' as const }
      },
      {
        response: {
          200: t.Object({
            status: t.Literal('ready'),
            database: t.Union([t.Literal('pglite'), t.Literal('postgres')]),
            migrations: t.Literal('applied'),
          }),
          503: ErrorSchema,
        },
        detail: { summary: 'Readiness: the database answers and its migrations are applied' },
      },
    )
}
