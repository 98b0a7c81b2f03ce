// /api/remote/sessions: the user's main job. Create a session on an assigned online machine,
// chat with it, watch its output live (SSE), steer it (stop/pause/resume/abort), continue it once
// stopped, answer the
// CLI's tool-permission questions.
import { Elysia, t } from 'elysia'
import { handleRevocations } from '../access/revoke.ts'
import type { Actor } from '../audit/service.ts'
import { authGuard } from '../auth/guard.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { idempotencyKey, once, replayedError } from '../http/idempotency.ts'
import { publicBaseUrl } from '../http/public-url.ts'
import { sseResponses } from '../http/sse.ts'
import { liveListRoute } from '../live/stream.ts'
import { sessionAccess, viewerStillAllowed } from './access.ts'
import { setAutoContinue, startAutoContinue } from './auto-continue.ts'
import { continueSession } from './continue.ts'
import { subscribeAnySessionEvent } from './events.ts'
import { sessionChangeFor, subscribeSessionChanges } from './live.ts'
import {
  AutoContinueBody,
  ChatAnswer,
  ChatBody,
  ControlAnswer,
  CreateSessionBody,
  ListQuery,
  PermissionAnswer,
  PermissionBody,
  PermissionRules,
  RuleParams,
  SessionAnswer,
  SessionDetail,
  SessionIdParams,
  SessionQuery,
  SessionSummary,
  StreamQuery,
  UpdateSessionBody,
} from './model.ts'
import { answerPermission, listPermissionRules, revokePermissionRule } from './permissions.ts'
import { stopRevokedSessions } from './revoke.ts'
import {
  type ControlAction,
  chat,
  control,
  createSession,
  getSession,
  listSessions,
  updateSession,
} from './service.ts'
import { openSessionStream, resumePoint } from './stream.ts'
import { startTokenRenewal } from './token-renewal.ts'
import { displayStatus } from './view.ts'

export function sessionsRoutes(ctx: AppContext) {
  startTokenRenewal(ctx)
  startAutoContinue(ctx)
  handleRevocations(ctx, stopRevokedSessions)
  // A session's state change, here or on another instance, drops its cached standings.
  ctx.state.accessCache.dependOn(
    subscribeAnySessionEvent(ctx, (sessionId, kind) => {
      if (kind === 'status') ctx.state.accessCache.drop({ session_ids: [sessionId] })
    }).then(() => undefined),
  )
  const controlRoute = (action: ControlAction) =>
    [
      ({ user, actor, params }: { user: UserRow; actor: Actor; params: { id: string } }) =>
        control(ctx, user, actor, params.id, action),
      {
        auth: true as const,
        params: SessionIdParams,
        response: { 200: ControlAnswer },
        detail: { summary: `${action} the session` },
      },
    ] as const
  return new Elysia({ name: 'sessions', seed: ctx.id, prefix: '/api/remote/sessions' })
    .use(authGuard(ctx))
    .get(
      '/events',
      ...liveListRoute(ctx, {
        subscribe: (listener) => subscribeSessionChanges(ctx, listener),
        filter: (reader, change) => sessionChangeFor(ctx, reader, change),
        summary:
          'Live session list (SSE): `ready`, then `changed {kind, ids}` for each session the caller may see; refetch on either',
      }),
    )
    .post(
      '/',
      async ({ body, user, actor, request, set }) => {
        // A double click or a client retry with the same Idempotency-Key makes one session.
        const answer = await once(
          ctx,
          { userId: user.id, scope: 'POST /api/remote/sessions', key: idempotencyKey(request) },
          async () => ({
            status: 201,
            body: {
              session: await createSession(
                ctx,
                user,
                actor,
                {
                  machineId: body.machine_id,
                  projectPath: body.project_path,
                  cliTool: body.cli_tool,
                  model: body.model,
                  title: body.title,
                  permissionMode: body.permission_mode,
                },
                publicBaseUrl(ctx.config, request),
              ),
            },
          }),
        )
        if (answer.status >= 400) throw replayedError(answer)
        set.status = answer.status
        return answer.body as { session: Awaited<ReturnType<typeof createSession>> }
      },
      {
        auth: true,
        body: CreateSessionBody,
        response: { 201: SessionAnswer },
        detail: { summary: 'Start a session on a remote machine' },
      },
    )
    .get(
      '/',
      async ({ user, query }) => ({
        sessions: await listSessions(ctx, user, {
          machineId: query.machine_id,
          status: query.status,
          all: query.all,
          tenantId: query.tenant_id,
        }),
      }),
      {
        auth: true,
        query: ListQuery,
        response: { 200: t.Object({ sessions: t.Array(SessionSummary) }) },
        detail: { summary: "Sessions: own; machine admins also their machines'; system admins all" },
      },
    )
    .get(
      '/:id',
      ({ user, params, query }) =>
        getSession(ctx, user, params.id, { after: query.output_after, limit: query.output_limit }),
      {
        auth: true,
        params: SessionIdParams,
        query: SessionQuery,
        response: { 200: SessionDetail },
        detail: { summary: 'One session with its output (paged by output_after/output_limit)' },
      },
    )
    .patch(
      '/:id',
      async ({ user, actor, params, body }) => ({
        session: await updateSession(ctx, user, actor, params.id, {
          title: body.title,
          permissionMode: body.permission_mode,
        }),
      }),
      {
        auth: true,
        params: SessionIdParams,
        body: UpdateSessionBody,
        response: { 200: SessionAnswer },
        detail: { summary: 'Change title or permission mode' },
      },
    )
    .get(
      '/:id/stream',
      async ({ user, sessionToken, params, request }) => {
        const { session, machine } = await sessionAccess(ctx, user, params.id, 'view')
        return openSessionStream(ctx, {
          sessionId: params.id,
          after: resumePoint(request),
          status: displayStatus(session, machine),
          currentStatus: async () => {
            const now = await sessionAccess(ctx, user, params.id, 'view')
            return displayStatus(now.session, now.machine)
          },
          viewer: {
            userId: user.id,
            machineId: session.remoteMachineId,
            stillAllowed: () =>
              viewerStillAllowed(ctx, { userId: user.id, loginToken: sessionToken }, params.id),
          },
        })
      },
      {
        auth: true,
        params: SessionIdParams,
        query: StreamQuery,
        detail: {
          summary: 'Live output as Server-Sent Events (resumable with Last-Event-ID)',
          responses: sseResponses('Output records, status and conversation events; ids are output seqs'),
        },
      },
    )
    .post('/:id/chat', ({ user, actor, params, body }) => chat(ctx, user, actor, params.id, body.content), {
      auth: 'cached',
      params: SessionIdParams,
      body: ChatBody,
      response: { 200: ChatAnswer },
      detail: { summary: 'Send a message to the CLI' },
    })
    .post(
      '/:id/permission',
      ({ user, actor, params, body }) =>
        answerPermission(ctx, user, actor, params.id, {
          requestId: body.request_id,
          allow: body.allow,
          always: body.always,
        }),
      {
        auth: true,
        params: SessionIdParams,
        body: PermissionBody,
        response: { 200: PermissionAnswer },
        detail: { summary: "Answer the CLI's tool-permission request" },
      },
    )
    .get('/:id/permission-rules', ({ user, params }) => listPermissionRules(ctx, user, params.id), {
      auth: true,
      params: SessionIdParams,
      response: { 200: PermissionRules },
      detail: { summary: '"Always allow" rules in force for the session' },
    })
    .delete(
      '/:id/permission-rules/:tool',
      ({ user, actor, params }) => revokePermissionRule(ctx, user, actor, params.id, params.tool),
      {
        auth: true,
        params: RuleParams,
        response: { 200: PermissionRules },
        detail: { summary: 'Revoke an "always allow" rule: that tool asks again' },
      },
    )
    .post('/:id/stop', ...controlRoute('stop'))
    .post('/:id/pause', ...controlRoute('pause'))
    .post('/:id/resume', ...controlRoute('resume'))
    .post('/:id/abort', ...controlRoute('abort'))
    .post(
      '/:id/continue',
      async ({ user, actor, params, request }) => ({
        session: await continueSession(ctx, { user, actor }, params.id, publicBaseUrl(ctx.config, request)),
      }),
      {
        auth: true,
        params: SessionIdParams,
        response: { 200: SessionAnswer },
        detail: { summary: 'Continue a stopped session: a new CLI process resuming its conversation' },
      },
    )
    .put(
      '/:id/auto-continue',
      async ({ user, actor, params, body, request }) => ({
        session: await setAutoContinue(
          ctx,
          user,
          actor,
          params.id,
          body.enabled,
          publicBaseUrl(ctx.config, request),
        ),
      }),
      {
        auth: true,
        params: SessionIdParams,
        body: AutoContinueBody,
        response: { 200: SessionAnswer },
        detail: { summary: 'Continue a session stopped by its quota by itself when the quota resets' },
      },
    )
}
