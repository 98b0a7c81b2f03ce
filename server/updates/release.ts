// The agent release this server offers: the version of the binaries it serves (VERSION, written
// by `bun run build:agent`) and each binary's SHA-256 (SHA256SUMS beside them). Read from disk on
// each use: rebuilding the agent on a running server offers the new build at once.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AppContext } from '../context/index.ts'
import { AGENT_TARGETS, binaryName, CHECKSUMS_FILE } from '../install/model.ts'
import { servedAgentVersion } from '../machines/versions.ts'

export interface AgentRelease {
  version: string
  /** Binary file name -> SHA-256 (hex), as SHA256SUMS lists them. */
  sums: Map<string, string>
}

export function parseChecksums(text: string): Map<string, string> {
  const sums = new Map<string, string>()
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]{64})\s+\*?(\S+)\s*$/.exec(line.trim())
    if (match) sums.set(match[2]!, match[1]!)
  }
  return sums
}

export async function servedRelease(ctx: AppContext): Promise<AgentRelease | null> {
  const version = await servedAgentVersion(ctx)
  if (!version) return null
  const text = await readFile(join(ctx.config.agentDistDir, CHECKSUMS_FILE), 'utf8').catch(() => '')
  return { version, sums: parseChecksums(text) }
}

/** The served binary for an agent's build target, or null when that target was not built. */
export function releaseBinary(release: AgentRelease, target: string) {
  if (!(AGENT_TARGETS as readonly string[]).includes(target)) return null
  const name = binaryName(target as (typeof AGENT_TARGETS)[number])
  const sha256 = release.sums.get(name)
  return sha256 ? { name, sha256, path: `/api/remote/agent/files/${name}` } : null
}
