// The agent-facing endpoints: one-time registration, the long-poll channel and the WebSocket.
// Agents authenticate with their bearer token, never a browser cookie.
import { Elysia } from 'elysia'
import { AGENT_MESSAGE_PATH, AGENT_REGISTER_PATH, LongPollRequestEnvelope } from '../../protocol/index.ts'
import { bearerToken } from '../auth/tokens.ts'
import type { AppContext } from '../context/index.ts'
import { clientIp } from '../http/client-ip.ts'
import { AgentRegisterBody } from '../machines/model.ts'
import { registerAgent } from '../machines/registration.ts'
import { agentAdmission } from './admission.ts'
import type { FrameReports } from './frames.ts'
import { agentGuard } from './guard.ts'
import { channelHub } from './hub.ts'
import { handlePoll } from './long-poll.ts'
import { agentWebSocketRoutes } from './websocket.ts'

/** `reports`: the handlers of frames other capabilities own (sessions, usage), composed in by the app. */
export function agentRoutes(ctx: AppContext, reports: FrameReports) {
  channelHub(ctx)
  agentAdmission(ctx)
  return new Elysia({ name: 'agents', seed: ctx.id })
    .use(agentGuard(ctx))
    .post(
      AGENT_REGISTER_PATH,
      ({ body, request, server }) =>
        registerAgent(
          ctx,
          {
            registrationToken: body.registration_token,
            machineId: body.machine_id,
            machineName: body.machine_name,
            hostname: body.hostname,
            osType: body.os_type,
            osVersion: body.os_version,
            capabilities: body.capabilities,
            agentVersion: body.agent_version,
            presentedAgentToken: bearerToken(request),
          },
          clientIp(request, server, ctx.config.trustProxy),
        ),
      {
        body: AgentRegisterBody,
        detail: { summary: 'Register an agent with a one-time registration token' },
      },
    )
    .post(
      AGENT_MESSAGE_PATH,
      async ({ agent, body, request }) => {
        const slot = agentAdmission(ctx).admit(agent.machineId, 'long_poll')
        return handlePoll(ctx, agent, body, request.signal, reports).finally(slot.release)
      },
      {
        // The frame limit for the whole poll body is http/body-limit's (checked before parsing).
        agentAuth: true,
        body: LongPollRequestEnvelope,
        detail: { summary: 'Agent long-poll: post events, receive commands' },
      },
    )
    .use(agentWebSocketRoutes(ctx, reports))
}

export { subscribeSessionEvents } from '../sessions/events.ts'
export { queueCommand } from './commands.ts'
