// POST /api/remote/agent/register: an agent trades a one-time registration token for its
// machine and agent token. Machines own it (it creates the machine); the channel comes after.
import { Elysia } from 'elysia'
import { AGENT_REGISTER_PATH } from '../../protocol/index.ts'
import { bearerToken } from '../auth/tokens.ts'
import type { AppContext } from '../context/index.ts'
import { clientIp } from '../http/client-ip.ts'
import { AgentRegisterBody, AgentRegistered } from './model.ts'
import { registerAgent } from './registration.ts'

export function agentRegistrationRoutes(ctx: AppContext) {
  return new Elysia({ name: 'machines.register', seed: ctx.id }).post(
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
      response: AgentRegistered,
      detail: { summary: 'Register an agent with a one-time registration token' },
    },
  )
}
