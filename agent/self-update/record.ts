// update.json in the agent's directory: what survives the restart of a self-update. The old
// process writes `trial` before it starts the new binary; the new one marks it `connected`
// once the server welcomed it; a failed trial leaves `rolled_back` with the reason, which the
// restored binary reports in its next hello and then removes.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const UPDATE_FILE = 'update.json'

export interface UpdateRecord {
  /** The version being installed. */
  version: string
  /** The version it replaces. */
  from: string
  state: 'trial' | 'connected' | 'rolled_back'
  /** Names the trial process (OPENACE_UPDATE_TRIAL), so only it may mark the update connected. */
  nonce?: string
  reason?: string
}

export function readUpdateRecord(dir: string): UpdateRecord | undefined {
  const path = join(dir, UPDATE_FILE)
  if (!existsSync(path)) return undefined
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as UpdateRecord
  } catch {
    return undefined
  }
}

export function writeUpdateRecord(dir: string, record: UpdateRecord): void {
  const path = join(dir, UPDATE_FILE)
  writeFileSync(`${path}.tmp`, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 })
  renameSync(`${path}.tmp`, path)
}

export function removeUpdateRecord(dir: string): void {
  rmSync(join(dir, UPDATE_FILE), { force: true })
}
