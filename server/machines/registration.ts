// Registration: a system admin makes a one-time token (hash stored, expires), the installer's
// agent trades it for a machine id + long-lived agent token. The token row is locked while the
// claim is checked and spent in the same transaction, so two concurrent uses cannot both win and
// a refused claim spends nothing.
import { and, desc, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm'
import { revokeAccess } from '../access/revoke.ts'
import { notifyAgentControl } from '../agents/hub.ts'
import type { Actor } from '../audit/service.ts'
import { assertUnderAuditRate } from '../auth/rate-limit.ts'
import { hashToken, newSecretToken } from '../auth/tokens.ts'
import type { AppContext } from '../context/index.ts'
import {
  agentCommands,
  agentTokens,
  machineAssignments,
  registrationTokens,
  remoteMachines,
  tenants,
} from '../db/schema/index.ts'
import type { Tx } from '../db/transaction.ts'
import { badRequest, HttpError } from '../errors.ts'
import { publishMachineChange } from '../live/bus.ts'
import { issueAgentToken } from './rotation.ts'

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

/**
 * A registration token's public name: derived from its stored hash (never the secret), so the
 * dialog that made the token can follow it ("registered") on the machines stream.
 */
export const registrationId = (tokenHash: string) => hashToken(`registration:${tokenHash}`).slice(0, 24)

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
  const tokenHash = hashToken(token)
  const expiresAt = new Date(ctx.now().getTime() + ctx.config.agentChannel.registrationTokenTtlSeconds * 1000)
  await ctx.db.insert(registrationTokens).values({
    tokenHash,
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
    registration_id: registrationId(tokenHash),
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
  /** An agent token sent along (Authorization: Bearer): proves which machine the caller is. */
  presentedAgentToken?: string | null
}

const INVALID_REGISTRATION = 'Registration token is invalid, expired or already used'
/** One answer for every refused claim on a registered id: whose it is stays unsaid. */
export const MACHINE_ID_TAKEN =
  "This machine_id is already registered. Re-install with the machine's current agent token, or ask an administrator to deregister it first"
export const REGISTER_EVENT = 'machine.register'

/** The caller holds the machine's agent token: a live one, or its newest (revoked since). */
async function holdsAgentToken(tx: Tx, machineId: string, presented: string | null | undefined) {
  if (!presented) return false
  const hash = hashToken(presented)
  const [latest] = await tx
    .select({ tokenHash: agentTokens.tokenHash })
    .from(agentTokens)
    .where(eq(agentTokens.machineId, machineId))
    .orderBy(desc(agentTokens.version), desc(agentTokens.createdAt))
    .limit(1)
  if (latest?.tokenHash === hash) return true
  const [live] = await tx
    .select({ tokenHash: agentTokens.tokenHash })
    .from(agentTokens)
    .where(
      and(
        eq(agentTokens.machineId, machineId),
        eq(agentTokens.tokenHash, hash),
        isNull(agentTokens.revokedAt),
      ),
    )
    .limit(1)
  return !!live
}

/**
 * A re-installed host (new machine id, same hostname in the same tenant) is the machine we
 * already know: an offline one is taken over (id, assignments and history kept), a live one is
 * 409 unless the caller holds its agent token. An advisory lock per tenant and hostname makes
 * concurrent registrations of one host take turns, so they never both create a row.
 */
async function machineOfSameHost(tx: Tx, tenantId: number, input: AgentRegistration): Promise<string | null> {
  const hostname = input.hostname.trim().toLowerCase()
  if (!hostname) return null
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`oa_host:${tenantId}:${hostname}`}))`)
  const same = await tx
    .select({ machineId: remoteMachines.machineId, status: remoteMachines.status })
    .from(remoteMachines)
    .where(
      and(
        eq(remoteMachines.tenantId, tenantId),
        eq(sql`lower(${remoteMachines.hostname})`, sql`lower(${hostname})`),
        isNull(remoteMachines.deletedAt),
        ne(remoteMachines.machineId, input.machineId),
      ),
    )
    .orderBy(sql`${remoteMachines.lastHeartbeat} desc nulls last`, desc(remoteMachines.updatedAt))
    .for('update')
  if (same.length === 0) return null
  let held: string | undefined
  if (input.presentedAgentToken) {
    const [row] = await tx
      .select({ machineId: agentTokens.machineId })
      .from(agentTokens)
      .where(
        and(
          eq(agentTokens.tokenHash, hashToken(input.presentedAgentToken)),
          isNull(agentTokens.revokedAt),
          inArray(
            agentTokens.machineId,
            same.map((m) => m.machineId),
          ),
        ),
      )
    held = row?.machineId
  }
  if (held) return held
  if (same.some((m) => m.status === 'online')) {
    throw new HttpError(
      409,
      `A machine named '${input.hostname}' is online in this tenant; deregister it first, or register from that machine with its agent token`,
      'hostname_conflict',
      'hostname',
    )
  }
  return same.find((m) => m.status !== 'online')!.machineId
}

/**
 * Trades a registration token for an agent token. A new id becomes a machine; a deregistered id
 * comes back as new (no assignments, sessions or pending commands of its past); a registered id
 * only to whoever holds that machine's agent token (re-install), within its tenant: any other
 * claim is one 409 that spends nothing. Attempts are rate limited per client address.
 */
export async function registerAgent(ctx: AppContext, input: AgentRegistration, ip: string | null) {
  const actor: Actor = { type: 'agent', id: input.machineId, name: input.hostname, ip }
  if (ip) {
    const { registrationMaxPerIp, registrationRateWindowSeconds } = ctx.config.agentChannel
    await assertUnderAuditRate(ctx, {
      windowSeconds: registrationRateWindowSeconds,
      checks: [{ filter: { event: REGISTER_EVENT, ip }, limit: registrationMaxPerIp }],
      message: 'Too many registration attempts from this address.',
    })
  }
  const now = ctx.now()
  try {
    const registered = await ctx.transaction(async (tx) => {
      const tokenHash = hashToken(input.registrationToken)
      const tokenWhere = and(
        eq(registrationTokens.tokenHash, tokenHash),
        isNull(registrationTokens.usedAt),
        gt(registrationTokens.expiresAt, now),
      )
      const [consumed] = await tx
        .select({ tenantId: registrationTokens.tenantId })
        .from(registrationTokens)
        .where(tokenWhere)
        .for('update')
      if (!consumed)
        throw new HttpError(401, INVALID_REGISTRATION, 'invalid_registration_token', 'registration_token')
      const [existing] = await tx
        .select({ tenantId: remoteMachines.tenantId, deletedAt: remoteMachines.deletedAt })
        .from(remoteMachines)
        .where(eq(remoteMachines.machineId, input.machineId))
        .for('update')
      const live = !!existing && !existing.deletedAt
      if (
        live &&
        (existing.tenantId !== consumed.tenantId ||
          !(await holdsAgentToken(tx, input.machineId, input.presentedAgentToken)))
      )
        throw new HttpError(409, MACHINE_ID_TAKEN, 'machine_id_taken', 'machine_id')
      const merged =
        !existing || existing.deletedAt ? await machineOfSameHost(tx, consumed.tenantId, input) : null
      const machineId = merged ?? input.machineId
      await tx.update(registrationTokens).set({ usedAt: now, usedByMachineId: machineId }).where(tokenWhere)
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
      if (merged || existing) {
        // A deregistered machine comes back as new: nobody keeps access from before, pending
        // commands are dropped, and created_at (the registration's start) hides its past sessions.
        const fresh = !merged && !!existing?.deletedAt
        if (fresh) {
          await tx.delete(machineAssignments).where(eq(machineAssignments.machineId, machineId))
          await tx
            .delete(agentCommands)
            .where(and(eq(agentCommands.machineId, machineId), ne(agentCommands.status, 'acked')))
        }
        await tx
          .update(remoteMachines)
          .set({
            ...fields,
            ...(fresh
              ? {
                  createdAt: sql`now()`,
                  systemInfo: {},
                  lastHeartbeat: null,
                  allowedCliTools: null,
                  requiredIsolation: 'none' as const,
                }
              : {}),
          })
          .where(eq(remoteMachines.machineId, machineId))
        await tx
          .update(agentTokens)
          .set({ revokedAt: now, revokedReason: 'revoked' })
          .where(and(eq(agentTokens.machineId, machineId), isNull(agentTokens.revokedAt)))
      } else {
        await tx.insert(remoteMachines).values({ machineId, createdAt: sql`now()`, ...fields })
      }
      const issued = await issueAgentToken(tx, machineId, now)
      return {
        machineId,
        merged: merged !== null,
        replaced: live,
        tenantId: consumed.tenantId,
        tokenHash,
        ...issued,
      }
    })
    if (registered.merged || registered.replaced) await notifyAgentControl(ctx, registered.machineId)
    await publishMachineChange(ctx, 'registered', registered.machineId, {
      registration_id: registrationId(registered.tokenHash),
    })
    // A re-install replaces the running agent: its sessions end with it.
    if (registered.replaced)
      await revokeAccess(ctx, 'machine_reregistered', { machine_id: registered.machineId })
    await ctx.audit(
      REGISTER_EVENT,
      { ...actor, id: registered.machineId },
      { type: 'machine', id: registered.machineId },
      {
        hostname: input.hostname,
        os_type: input.osType,
        agent_version: input.agentVersion,
        ...(registered.merged ? { merged_from_machine_id: input.machineId } : {}),
      },
      { tenantId: registered.tenantId },
    )
    return {
      machine_id: registered.machineId,
      agent_token: registered.token,
      agent_token_version: registered.version,
    }
  } catch (error) {
    if (error instanceof HttpError) {
      await ctx.audit(
        REGISTER_EVENT,
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
