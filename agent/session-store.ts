// The sessions this agent runs, kept on disk (0600, under the agent's directory) so an agent
// that died (crash, kill, reboot) takes them up again: the next message restarts the CLI,
// resuming its own conversation, and output numbering goes on from where it stopped.
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { CommandOf } from '../protocol/index.ts'

const FILE = 'session.json'
const FILE_MODE = 0o600

export interface StoredSession {
  start: Omit<CommandOf<'session.start'>, 'id'>
  /** The project directory as resolved and checked when the session started. */
  project_path: string
  /** The seq the next output record gets; saved before each batch is handed to the outbox. */
  next_seq: number
  cli_session_id?: string
}

export class SessionStore {
  constructor(private readonly sessionsDir: string) {}

  save(session: StoredSession): void {
    const dir = join(this.sessionsDir, session.start.session_id)
    mkdirSync(dir, { recursive: true, mode: 0o700 })
    const path = join(dir, FILE)
    writeFileSync(`${path}.tmp`, JSON.stringify(session), { mode: FILE_MODE })
    renameSync(`${path}.tmp`, path)
  }

  remove(sessionId: string): void {
    rmSync(join(this.sessionsDir, sessionId, FILE), { force: true })
  }

  /** Every stored session; unreadable files are skipped (and reported through `onBad`). */
  loadAll(onBad: (sessionId: string, error: Error) => void): StoredSession[] {
    if (!existsSync(this.sessionsDir)) return []
    const out: StoredSession[] = []
    for (const id of readdirSync(this.sessionsDir)) {
      const path = join(this.sessionsDir, id, FILE)
      if (!existsSync(path)) continue
      try {
        out.push(JSON.parse(readFileSync(path, 'utf8')) as StoredSession)
      } catch (error) {
        onBad(id, error as Error)
      }
    }
    return out
  }
}
