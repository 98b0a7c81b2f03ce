// GET /metrics: this instance's metrics in the Prometheus text format. Readable by a logged-in
// system admin, or by a scraper holding METRICS_TOKEN (Authorization: Bearer), compared in
// constant time so the token cannot be guessed byte by byte.
import { createHash, timingSafeEqual } from 'node:crypto'
import { Elysia, t } from 'elysia'
import { authenticate } from '../auth/guard.ts'
import { SESSION_COOKIE } from '../auth/service.ts'
import { bearerToken } from '../auth/tokens.ts'
import type { AppContext } from '../context/index.ts'
import { unauthorized } from '../errors.ts'
import { documented } from '../http/schema.ts'

export const METRICS_PATH = '/metrics'
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const digest = (text: string) => createHash('sha256').update(text).digest()

/** Hashing first gives equal-length inputs, so the comparison leaks neither content nor length. */
export function metricsTokenMatches(expected: string | undefined, presented: string): boolean {
  if (!expected) return false
  return timingSafeEqual(digest(expected), digest(presented))
}

export function metricsRoutes(ctx: AppContext) {
  return new Elysia({ name: 'metrics', seed: ctx.id }).get(
    METRICS_PATH,
    async ({ request, server, cookie }) => {
      const presented = bearerToken(request)
      if (presented !== null) {
        if (!metricsTokenMatches(ctx.config.metricsToken, presented))
          throw unauthorized('The metrics token is missing or wrong')
      } else {
        await authenticate(ctx, request, server, cookie[SESSION_COOKIE]?.value, 'system_admin')
      }
      return new Response(ctx.state.metrics.registry.render(), {
        headers: { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store' },
      })
    },
    {
      detail: {
        summary: 'Prometheus metrics (system admin, or Bearer METRICS_TOKEN)',
        responses: documented(200, 'The Prometheus text exposition format, version 0.0.4', {
          'text/plain': t.String({ description: PROMETHEUS_CONTENT_TYPE }),
        }),
      },
    },
  )
}
