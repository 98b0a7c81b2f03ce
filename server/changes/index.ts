// /api/remote/sessions/:id/changes: what the CLI changed in the session's project (files with
// +/- counts, a file's hunks), revert a file or one hunk, stage and commit (git trees), and an
// SSE stream that says "changed" whenever the agent's watch sees an edit.
import { Elysia } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { formatSse, keepAlive, SSE_HEADERS, sseResponses, sseRetry } from '../http/sse.ts'
import { sessionAccess } from '../sessions/access.ts'
import { subscribeChanges } from './events.ts'
import {
  CHANGES_ANSWERS,
  CommitBody,
  DiffQuery,
  RevertAnswer,
  RevertBody,
  SessionIdParams,
  StageBody,
} from './model.ts'
import { requestChanges } from './service.ts'

export function changesRoutes(ctx: AppContext) {
  return (
    new Elysia({ name: 'changes', seed: ctx.id, prefix: '/api/remote/sessions/:id/changes' })
      .use(authGuard(ctx))
      // Every route here is the signed-in reader's, about the session in the path.
      .guard({ auth: true, params: SessionIdParams }, (session) =>
        session
          .get('/', ({ actor, user, params }) => requestChanges(ctx, actor, user, params.id, 'list'), {
            response: { 200: CHANGES_ANSWERS.list },
            detail: { summary: "Files the session's CLI changed, with +/- counts" },
          })
          .get(
            '/diff',
            ({ actor, user, params, query }) =>
              requestChanges(ctx, actor, user, params.id, 'diff', { path: query.path }),
            {
              query: DiffQuery,
              response: { 200: CHANGES_ANSWERS.diff },
              detail: { summary: "One file's hunks" },
            },
          )
          .post(
            '/revert',
            ({ actor, user, params, body }) => {
              const { path, hunk_id } = body
              const op = hunk_id ? 'revert_hunk' : 'revert_file'
              return requestChanges(ctx, actor, user, params.id, op, hunk_id ? { path, hunk_id } : { path })
            },
            {
              body: RevertBody,
              response: { 200: RevertAnswer },
              detail: { summary: 'Revert a file or one hunk' },
            },
          )
          .post(
            '/stage',
            ({ actor, user, params, body }) =>
              requestChanges(ctx, actor, user, params.id, 'stage', body.paths ? { paths: body.paths } : {}),
            {
              body: StageBody,
              response: { 200: CHANGES_ANSWERS.stage },
              detail: { summary: 'Stage files (git trees)' },
            },
          )
          .post(
            '/commit',
            ({ actor, user, params, body }) =>
              requestChanges(ctx, actor, user, params.id, 'commit', { message: body.message }),
            {
              body: CommitBody,
              response: { 200: CHANGES_ANSWERS.commit },
              detail: { summary: 'Commit what is staged (git trees)' },
            },
          )
          .get(
            '/events',
            async ({ user, params }) => {
              await sessionAccess(ctx, user, params.id, 'view')
              let unsubscribe: (() => void) | undefined
              let keepalive: ReturnType<typeof setInterval> | undefined
              const stream = new ReadableStream<string>({
                async start(controller) {
                  const send = (text: string) => {
                    try {
                      controller.enqueue(text)
                    } catch {
                      // The browser went away; cancel() cleans up.
                    }
                  }
                  send(sseRetry())
                  unsubscribe = await subscribeChanges(ctx, params.id, () =>
                    send(formatSse({ event: 'changed', data: { session_id: params.id } })),
                  )
                  keepalive = keepAlive(send)
                },
                cancel() {
                  unsubscribe?.()
                  clearInterval(keepalive)
                },
              })
              return new Response(stream, { headers: SSE_HEADERS })
            },
            {
              detail: {
                summary: 'SSE: "changed" whenever the project changes',
                responses: sseResponses('`changed {session_id}` events'),
              },
            },
          ),
      )
  )
}
