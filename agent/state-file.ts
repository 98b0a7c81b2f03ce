// state.json in the agent's directory: what `open-ace-agent status` reads about a running
// agent (pid, version, connection, sessions). Written on every connection change and
// periodically; never holds a token.
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AgentStatus } from './agent.ts'

export const STATE_FILE = 'state.json'

export interface AgentStateFile extends AgentStatus {
  pid: number
  version: string
  started_at: string
  updated_at: string
}

export function writeStateFile(dir: string, state: AgentStateFile): void {
  const path = join(dir, STATE_FILE)
  try {
    writeFileSync(`${path}.tmp`, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 })
    renameSync(`${path}.tmp`, path)
  } catch {
    // Status reporting is best effort; the agent keeps working without it.
  }
}

export function readStateFile(dir: string): AgentStateFile | undefined {
  const path = join(dir, STATE_FILE)
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as AgentStateFile
  } catch {
    return undefined
  }
}

export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
