// Where the agent keeps config.json, logs, its output spool and state.json.
import { mkdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { DEFAULT_AGENT_DIR } from './config.ts'

/** --dir, else $OPENACE_AGENT_DIR, else ~/.open-ace-agent; created (0700) unless `create` is false. */
export function resolveAgentDir(flag: string | undefined, create = true): string {
  const dir = resolve(flag ?? process.env.OPENACE_AGENT_DIR ?? DEFAULT_AGENT_DIR)
  if (create) mkdirSync(dir, { recursive: true, mode: 0o700 })
  return dir
}
