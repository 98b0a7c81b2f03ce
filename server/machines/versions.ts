// Agent versions across the fleet: the version of the binaries this server serves (the
// VERSION file `bun run build:agent` writes beside them) and how many machines run each one.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { count, isNull, sql } from 'drizzle-orm'
import type { AppContext } from '../context/index.ts'
import { remoteMachines } from '../db/schema/index.ts'

const VERSION_FILE = 'VERSION'

/** The served agent version, or null when no binaries were built. */
export async function servedAgentVersion(ctx: AppContext): Promise<string | null> {
  const text = await readFile(join(ctx.config.agentDistDir, VERSION_FILE), 'utf8').catch(() => '')
  return text.trim() || null
}

/** Whether a machine runs something other than what the server serves. */
export const isOutdated = (agentVersion: string, served: string | null) =>
  served !== null && agentVersion !== served

export async function fleetVersions(ctx: AppContext) {
  const served = await servedAgentVersion(ctx)
  const rows = await ctx.db
    .select({
      version: remoteMachines.agentVersion,
      machines: count(),
      online: sql<number>`count(*) filter (where ${remoteMachines.status} = 'online')`.mapWith(Number),
    })
    .from(remoteMachines)
    .where(isNull(remoteMachines.deletedAt))
    .groupBy(remoteMachines.agentVersion)
    .orderBy(remoteMachines.agentVersion)
  const versions = rows.map((r) => ({ ...r, current: !isOutdated(r.version, served) }))
  return {
    served_version: served,
    versions,
    outdated: versions.filter((v) => !v.current).reduce((n, v) => n + v.machines, 0),
  }
}
