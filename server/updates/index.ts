// Agent self-update for system admins: "update now" for one machine or every outdated one
// (POST, 202: sent at once, or as soon as the machine is online and idle). The periodic check
// of idle machines starts with this plugin; the agent's reports arrive through updateReports.
import { Elysia } from 'elysia'
import type { FrameReports } from '../agents/frames.ts'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { MachineIdParams } from '../machines/model.ts'
import { UpdateAllRequested, UpdateRequestBody, UpdateRequested } from './model.ts'
import {
  recordUpdateStatus,
  requestUpdate,
  requestUpdateAll,
  startUpdateChecks,
  updateOnHello,
} from './service.ts'

/** The channel's hooks for hello and agent.update_status (agents/frames.ts). */
export const updateReports: Pick<FrameReports, 'hello' | 'agent.update_status'> = {
  hello: updateOnHello,
  'agent.update_status': recordUpdateStatus,
}

export function updatesRoutes(ctx: AppContext) {
  startUpdateChecks(ctx)
  return new Elysia({ name: 'updates', seed: ctx.id, prefix: '/api/remote/machines' })
    .use(authGuard(ctx))
    .post(
      '/update-all',
      async ({ actor, body, set }) => {
        set.status = 202
        return requestUpdateAll(ctx, actor, { force: body?.force === true })
      },
      {
        auth: 'system_admin',
        body: UpdateRequestBody,
        response: { 202: UpdateAllRequested },
        detail: { summary: "Update every machine whose agent runs another version than the server's" },
      },
    )
    .post(
      '/:id/update',
      async ({ actor, params, body, set }) => {
        set.status = 202
        return requestUpdate(ctx, actor, params.id, { force: body?.force === true })
      },
      {
        auth: 'system_admin',
        params: MachineIdParams,
        body: UpdateRequestBody,
        response: { 202: UpdateRequested },
        detail: {
          summary: "Update a machine's agent to the served version (waits for live sessions unless force)",
        },
      },
    )
}
