// Liveness (/api/health: the process answers) and readiness (/api/ready: the database answers).
import { Elysia } from 'elysia'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'

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
        return { status: 'ready', database: ctx.database.kind }
      },
      { detail: { summary: 'Readiness: the database answers' } },
    )
}
