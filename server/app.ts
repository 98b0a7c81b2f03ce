// Composes the capability plugins into one Elysia app. The HTTP path is web-standard
// (app.fetch), so the same app serves on Bun and on Deno.
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { auditRoutes } from './audit/index.ts'
import { authRoutes } from './auth/index.ts'
import { SESSION_COOKIE } from './auth/service.ts'
import type { AppContext } from './context/index.ts'
import { healthRoutes } from './health/index.ts'
import { httpBase } from './http/index.ts'
import { deriveKey, hexKey, secretRoot } from './secrets.ts'
import { usersRoutes } from './users/index.ts'

export function createApp(ctx: AppContext) {
  return new Elysia({
    cookie: { secrets: hexKey(deriveKey(secretRoot(ctx.config), 'cookie-signing')), sign: [SESSION_COOKIE] },
  })
    .use(httpBase(ctx))
    .use(
      openapi({
        path: '/api/docs',
        documentation: { info: { title: 'Open ACE Remote Workspace API', version: '1' } },
      }),
    )
    .use(healthRoutes(ctx))
    .use(authRoutes(ctx))
    .use(usersRoutes(ctx))
    .use(auditRoutes(ctx))
}

export type App = ReturnType<typeof createApp>
