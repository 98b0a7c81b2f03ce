// The agent channel's endpoints: the long-poll channel and the WebSocket (registration, which
// makes a machine, is machines/register-route.ts).
// Agents authenticate with their bearer token, never a browser cookie.
import { Elysia, t } from 'elysia'
import { AGENT_MESSAGE_PATH, LongPollRequestEnvelope, LongPollResponse } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import type { FrameReports } from './frames.ts'
import { agentGuard } from './guard.ts'
import { handlePoll } from './long-poll.ts'
import { agentWebSocketRoutes } from './websocket.ts'

/** `reports`: the handlers of frames other capabilities own (sessions, usage), composed in by the app. */
export function agentRoutes(ctx: AppContext, reports: FrameReports) {
  // The hub (its LISTENs, the presence sweeper) and the admission cap start with the routes.
  void ctx.state.channelHub
  void ctx.state.agentAdmission
  return new Elysia({ name: 'agents', seed: ctx.id })
    .use(agentGuard(ctx))
    .post(
      AGENT_MESSAGE_PATH,
      async ({ agent, body, request }) => {
        const slot = ctx.state.agentAdmission.admit(agent.machineId, 'long_poll')
        return handlePoll(ctx, agent, body, request.signal, reports).finally(slot.release)
      },
      {
        // The frame limit for the whole poll body is http/body-limit's (checked before parsing).
        agentAuth: true,
        body: LongPollRequestEnvelope,
        // The schema checked is the protocol's; its type is given too, because Elysia reads
        // the command union (built from a record of schemas) as `never`.
        response: t.Unsafe<LongPollResponse>(LongPollResponse),
        detail: { summary: 'Agent long-poll: post events, receive commands' },
      },
    )
    .use(agentWebSocketRoutes(ctx, reports))
}

export { queueCommand } from './commands.ts'
