// Agent authentication: `Authorization: Bearer <agent token>` -> the machine it belongs to, as
// one named Elysia macro (`{ agentAuth: true }` resolves `agent`) used by every agent route.
// A refused agent gets 401 plus a goodbye telling it to stop instead of retrying for ever.
import { eq } from 'drizzle-orm'
import { Elysia } from 'elysia'
import type { GoodbyeReason, UnauthorizedAgentResponse } from '../../protocol/index.ts'
import type { Actor } from '../audit/service.ts'
import { bearerToken, hashToken } from '../auth/tokens.ts'
import type { AppContext } from '../context/index.ts'
import { agentTokens, remoteMachines } from '../db/schema/index.ts'
import { HttpError } from '../errors.ts'
import { clientIp } from '../http/client-ip.ts'
import { notePresentedToken, type PresentedToken } from './token-use.ts'

export interface AgentIdentity extends PresentedToken {
  tenantId: number
  actor: Actor
}

const GOODBYE_MESSAGES: Record<GoodbyeReason, string> = {
  revoked: 'This agent token was revoked; register the machine again',
  deregistered: 'This machine was deregistered by an administrator',
  invalid_token: 'Agent token missing or not recognised',
}

/** 401 whose body carries the goodbye frame (protocol/transport.ts UnauthorizedAgentResponse). */
export class AgentUnauthorizedError extends HttpError {
  constructor(readonly reason: GoodbyeReason) {
    super(401, GOODBYE_MESSAGES[reason], 'unauthorized')
  }

  override toBody(): UnauthorizedAgentResponse {
    return {
      error: { message: this.message, type: 'unauthorized' },
      goodbye: { type: 'goodbye', reason: this.reason, message: this.message },
    }
  }
}

/** Resolves a token hash to its machine, or the reason it no longer works. */
export async function identifyAgent(
  ctx: AppContext,
  tokenHash: string,
): Promise<AgentIdentity | GoodbyeReason> {
  const [row] = await ctx.db
    .select({
      machineId: agentTokens.machineId,
      revokedReason: agentTokens.revokedReason,
      revokedAt: agentTokens.revokedAt,
      pending: agentTokens.pending,
      supersededAt: agentTokens.supersededAt,
      expiresAt: agentTokens.expiresAt,
      tenantId: remoteMachines.tenantId,
      hostname: remoteMachines.hostname,
      deletedAt: remoteMachines.deletedAt,
    })
    .from(agentTokens)
    .innerJoin(remoteMachines, eq(remoteMachines.machineId, agentTokens.machineId))
    .where(eq(agentTokens.tokenHash, tokenHash))
    .limit(1)
  if (!row) return 'invalid_token'
  if (row.revokedAt) return row.revokedReason ?? 'revoked'
  if (row.deletedAt) return 'deregistered'
  // A rotated-away token whose grace period is over.
  if (row.expiresAt && row.expiresAt.getTime() <= ctx.now().getTime()) return 'revoked'
  return {
    machineId: row.machineId,
    tenantId: row.tenantId,
    tokenHash,
    pending: row.pending,
    supersededAt: row.supersededAt,
    expiresAt: row.expiresAt,
    actor: { type: 'agent', id: row.machineId, name: row.hostname, tenantId: row.tenantId },
  }
}

export async function authenticateAgent(
  ctx: AppContext,
  request: Request,
  ip: string | null,
): Promise<AgentIdentity> {
  const token = bearerToken(request)
  const result = token ? await identifyAgent(ctx, hashToken(token)) : 'invalid_token'
  if (typeof result === 'string') {
    await ctx.audit('agent.auth', { type: 'agent', ip }, null, { reason: result }, { outcome: 'denied' })
    throw new AgentUnauthorizedError(result)
  }
  result.actor.ip = ip
  await notePresentedToken(ctx, result)
  return result
}

/**
 * `{ agentAuth: true }` on a route: the caller must hold a live agent token; resolves `agent`.
 * Authenticated in `transform`, before Elysia validates the body (see auth/guard.ts).
 */
export function agentGuard(ctx: AppContext) {
  const agents = new WeakMap<Request, AgentIdentity>()
  return new Elysia({ name: 'agents.guard', seed: ctx.id }).macro({
    agentAuth: {
      transform: async ({ request, server }) => {
        const ip = clientIp(request, server, ctx.config.trustProxy)
        agents.set(request, await authenticateAgent(ctx, request, ip))
      },
      resolve: ({ request }) => ({ agent: agents.get(request)! }),
    },
  })
}
