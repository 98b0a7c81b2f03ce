// Composes the capability plugins into one Elysia app. The HTTP path is web-standard
// (app.fetch), so the same app serves on Bun and on Deno.
import { openapi } from '@elysiajs/openapi'
import { Elysia } from 'elysia'
import { MAX_FRAME_BYTES } from '../protocol/index.ts'
import { agentRoutes } from './agents/index.ts'
import { apiDocsRoutes, DOCS_PATH, DOCS_SPEC_PATH } from './api-docs/index.ts'
import { apiKeysRoutes } from './api-keys/index.ts'
import { auditRoutes } from './audit/index.ts'
import { authRoutes } from './auth/index.ts'
import { changesRoutes } from './changes/index.ts'
import { changesUpdatedReport } from './changes/reports.ts'
import type { AppContext } from './context/index.ts'
import { healthRoutes } from './health/index.ts'
import { serverMaxBodyBytes } from './http/body-limit.ts'
import { httpBase } from './http/index.ts'
import { learnQueryKeys } from './http/query-keys.ts'
import { installRoutes } from './install/index.ts'
import { llmProxyRoutes } from './llm-proxy/index.ts'
import { machinesRoutes } from './machines/index.ts'
import { agentRegistrationRoutes } from './machines/register-route.ts'
import { metricsRoutes } from './metrics/index.ts'
import { oidcLogoutUrl, oidcRoutes } from './oidc/index.ts'
import { quotaRoutes } from './quota/index.ts'
import { usageRoutes } from './quota/usage-routes.ts'
import { cookieSigningSecret } from './secrets.ts'
import { reportSessionAlert } from './sessions/alerts.ts'
import { sessionsRoutes } from './sessions/index.ts'
import { endMachineSessions } from './sessions/lifecycle.ts'
import { sessionReports } from './sessions/reports.ts'
import { setupRoutes } from './setup/index.ts'
import { tenantsRoutes } from './tenants/index.ts'
import { terminalsRoutes } from './terminals/index.ts'
import { relayTerminalBytes } from './terminals/relay.ts'
import { tokensRoutes } from './tokens/index.ts'
import { uiRoutes } from './ui/index.ts'
import { updateReports, updatesRoutes } from './updates/index.ts'
import { usersRoutes } from './users/index.ts'

export function createApp(ctx: AppContext) {
  const app = new Elysia({
    // The session cookie is not signed: it is 256 random bits looked up by hash, so a signature
    // adds nothing, and a bad one made Elysia refuse login and logout (stuck after a key change).
    cookie: { secrets: cookieSigningSecret(ctx.config) },
    // Server-wide in Bun: only agents use WebSocket; a bigger message closes the socket (1009).
    websocket: { maxPayloadLength: MAX_FRAME_BYTES },
    // Bun's own backstop; each route class has its smaller limit (http/body-limit.ts).
    serve: { maxRequestBodySize: serverMaxBodyBytes(ctx) },
  })
    .use(httpBase(ctx))
    .use(
      // Only the spec: its page would load the viewer from a CDN; api-docs/ serves one offline.
      openapi({
        path: DOCS_PATH,
        specPath: DOCS_SPEC_PATH,
        provider: null,
        documentation: { info: { title: 'Open ACE Remote Workspace API', version: '1' } },
      }),
    )
    .use(apiDocsRoutes(ctx))
    .use(healthRoutes(ctx))
    .use(metricsRoutes(ctx))
    .use(authRoutes(ctx, oidcLogoutUrl(ctx)))
    .use(oidcRoutes(ctx))
    .use(usersRoutes(ctx))
    .use(tokensRoutes(ctx))
    .use(tenantsRoutes(ctx))
    .use(auditRoutes(ctx))
    .use(installRoutes(ctx, endMachineSessions))
    .use(apiKeysRoutes(ctx))
    // The proxy tells a session when its calls are refused (quota, key, upstream).
    .use(llmProxyRoutes(ctx, { alertSession: (id, alert) => reportSessionAlert(ctx, id, alert) }))
    .use(quotaRoutes(ctx))
    .use(usageRoutes(ctx))
    .use(machinesRoutes(ctx, endMachineSessions))
    .use(updatesRoutes(ctx))
    .use(agentRegistrationRoutes(ctx))
    .use(
      agentRoutes(ctx, {
        ...sessionReports,
        ...updateReports,
        'changes.updated': changesUpdatedReport,
        terminalBytes: relayTerminalBytes,
      }),
    )
    .use(sessionsRoutes(ctx))
    .use(terminalsRoutes(ctx))
    .use(changesRoutes(ctx))
    .use(setupRoutes(ctx))
    // Last: the UI's catch-all must not shadow any API route.
    .use(uiRoutes(ctx))
  learnQueryKeys(ctx, app.routes)
  return app
}

export type App = ReturnType<typeof createApp>
