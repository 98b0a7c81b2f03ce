// Registration: a system admin makes a one-time token (hash stored, expires), the installer's
// agent trades it for a machine id + long-lived agent token. Consumption is one UPDATE, so two
// concurrent uses of one token cannot both win.
import { and, eq, gt, isNull } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import { hashToken, newSecretToken } from '../auth/tokens.ts'
import type { AppContext } from '../context/index.ts'
import {
  agentTokens,
  machineAssignments,
  registrationTokens,
  remoteMachines,
  tenants,
} from '../db/schema/index.ts'
import { badRequest, conflict, HttpError } from '../errors.ts'

export interface InstallCommands {
  bash: string
  powershell: string
}

/** The ready-to-paste one-liners of the seed, pointed at this server with the token filled in. */
export function installCommands(baseUrl: string, token: string): InstallCommands {
  return {
    bash: `curl -fsSL ${baseUrl}/api/remote/agent/install.sh | bash -s -- --server ${baseUrl} --token ${token}`,
    powershell: `$env:OPENACE_SERVER_URL="${baseUrl}"; $env:OPENACE_REGISTRATION_TOKEN="${token}"; Invoke-WebRequest -UseBasicParsing -Uri "${baseUrl}/api/remote/agent/install.ps1" | Invoke-Expression`,
  }
}

export async function createRegistrationToken(
  ctx: AppContext,
  actor: Actor,
  tenantId: number,
  baseUrl: string,
) {
  const [tenant] = await ctx.db
    .select({ id: tenants.id })
    .from(tenants)
    .where(eq(tenants.id, tenantId))
    .limit(1)
  if (!tenant) throw badRequest(`Tenant ${tenantId} does not exist`, 'tenant_id')
  const token = newSecretToken()
  const expiresAt = new Date(ctx.now().getTime() + ctx.config.agentChannel.registrationTokenTtlSeconds * 1000)
  await ctx.db.insert(registrationTokens).values({
    tokenHash: hashToken(token),
    tenantId,
    createdBy: typeof actor.id === 'number' ? actor.id : null,
    createdAt: ctx.now(),
    expiresAt,
  })
  await ctx.audit(
    'machine.registration_token.create',
    actor,
    { type: 'tenant', id: tenantId },
    { expires_at: expiresAt.toISOString() },
    { tenantId },
  )
  return {
    registration_token: token,
    expires_at: expiresAt.toISOString(),
    install: installCommands(baseUrl, token),
  }
}

export interface AgentRegistration {
  registrationToken: string
  machineId: string
  machineName: string
  hostname: string
  osType: string
  osVersion: string
  capabilities: Record<string, unknown>
  agentVersion: string
}

const INVALID_REGISTRATION = 'Registration token is invalid, expired or already used'

/** Trades a registration token for an agent token; re-registering a machine replaces its token. */
export async function registerAgent(ctx: AppContext, input: AgentRegistration, ip: string | null) {
  const actor: Actor = { type: 'agent', id: input.machineId, name: input.hostname, ip }
  const now = ctx.now()
  const agentToken = newSecretToken()
  try {
    const tenantId = await ctx.db.transaction(async (tx) => {
      const [consumed] = await tx
        .update(registrationTokens)
        .set({ usedAt: now, usedByMachineId: input.machineId })
        .where(
          and(
            eq(registrationTokens.tokenHash, hashToken(input.registrationToken)),
            isNull(registrationTokens.usedAt),
            gt(registrationTokens.expiresAt, now),
          ),
        )
        .returning({ tenantId: registrationTokens.tenantId })
      if (!consumed)
        throw new HttpError(401, INVALID_REGISTRATION, 'invalid_registration_token', 'registration_token')
      const [existing] = await tx
        .select({ tenantId: remoteMachines.tenantId, deletedAt: remoteMachines.deletedAt })
        .from(remoteMachines)
        .where(eq(remoteMachines.machineId, input.machineId))
        .for('update')
      if (existing && !existing.deletedAt && existing.tenantId !== consumed.tenantId) {
        throw conflict('This machine_id is registered to another tenant')
      }
      const fields = {
        tenantId: consumed.tenantId,
        name: input.machineName.trim() || input.hostname,
        hostname: input.hostname,
        osType: input.osType,
        osVersion: input.osVersion,
        capabilities: input.capabilities,
        agentVersion: input.agentVersion,
        updatedAt: now,
        deletedAt: null,
      }
      if (existing) {
        // A deregistered machine comes back as new: nobody keeps access from before.
        if (existing.deletedAt)
          await tx.delete(machineAssignments).where(eq(machineAssignments.machineId, input.machineId))
        await tx.update(remoteMachines).set(fields).where(eq(remoteMachines.machineId, input.machineId))
        await tx
          .update(agentTokens)
          .set({ revokedAt: now, revokedReason: 'revoked' })
          .where(and(eq(agentTokens.machineId, input.machineId), isNull(agentTokens.revokedAt)))
      } else {
        await tx.insert(remoteMachines).values({ machineId: input.machineId, createdAt: now, ...fields })
      }
      await tx
        .insert(agentTokens)
        .values({ tokenHash: hashToken(agentToken), machineId: input.machineId, createdAt: now })
      return consumed.tenantId
    })
    await ctx.audit(
      'machine.register',
      actor,
      { type: 'machine', id: input.machineId },
      { hostname: input.hostname, os_type: input.osType, agent_version: input.agentVersion },
      { tenantId },
    )
    return { machine_id: input.machineId, agent_token: agentToken }
  } catch (error) {
    if (error instanceof HttpError) {
      await ctx.audit(
        'machine.register',
        actor,
        { type: 'machine', id: input.machineId },
        { reason: error.message },
        {
          outcome: 'denied',
        },
      )
    }
    throw error
  }
}
