// The changes panel on the agent: answers changes.request for a session's project (git work
// tree against HEAD, else the snapshot taken when the session started), and watches the project
// so browsers hear (debounced) when the CLI edits it.
import { existsSync, type FSWatcher, watch } from 'node:fs'
import { dirname, isAbsolute, join, normalize } from 'node:path'
import type { AgentFrame, CommandOf } from '../../protocol/index.ts'
import type { AgentLogger } from '../log.ts'
import type { FrameBody } from '../outbox.ts'
import { type Baseline, gitBaseline, snapshotBaseline, takeSnapshot } from './baseline.ts'
import { ChangeError, fileDiff, listChanges, revertHunk } from './diff.ts'
import { gitOk, gitTopLevel } from './git.ts'

/** Edits closer together than this are announced once. */
export const CHANGES_DEBOUNCE_MS = 300
/** A watcher nobody asked about for this long is closed. */
const WATCH_IDLE_MS = 30 * 60 * 1000

export interface ChangesHostOptions {
  emit: (frame: FrameBody<AgentFrame>) => void
  log: AgentLogger
  /** The project's real path inside the agent's allowed roots. */
  resolveRoot(path: string): Promise<string>
  /** Where snapshots live (one directory per session). */
  snapshotsDir: string
}

interface Watched {
  watcher: FSWatcher
  timer?: ReturnType<typeof setTimeout>
  lastAsked: number
}

function insideGitTree(dir: string): boolean {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, '.git'))) return true
    if (dirname(at) === at) return false
  }
}

function checkPath(path: string | undefined): string {
  if (!path) throw new ChangeError('invalid', 'A path is required')
  const clean = normalize(path).replaceAll('\\', '/')
  if (
    isAbsolute(clean) ||
    clean === '..' ||
    clean.startsWith('../') ||
    clean === '.git' ||
    clean.startsWith('.git/')
  )
    throw new ChangeError('invalid', `Not a path inside the project: ${path}`)
  return clean
}

export class ChangesHost {
  private readonly watched = new Map<string, Watched>()

  constructor(private readonly opts: ChangesHostOptions) {}

  /** Before a session starts: snapshot a project that is not a git work tree. */
  async prepare(sessionId: string, projectPath: string) {
    try {
      const root = await this.opts.resolveRoot(projectPath)
      // A quick look for .git (no git process), so a session's start is not held up.
      if (!existsSync(root) || insideGitTree(root)) return
      takeSnapshot(root, join(this.opts.snapshotsDir, sessionId))
    } catch (error) {
      this.opts.log.warn('could not snapshot the project for the changes panel', {
        session_id: sessionId,
        error: (error as Error).message,
      })
    }
  }

  async handle(cmd: CommandOf<'changes.request'>) {
    const reply = { type: 'changes.result' as const, request_id: cmd.request_id, session_id: cmd.session_id }
    try {
      const result = await this.run(cmd)
      this.opts.emit({ ...reply, result: result as Record<string, unknown> })
    } catch (error) {
      const code = error instanceof ChangeError ? error.code : 'failed'
      this.opts.emit({ ...reply, error: (error as Error).message, code })
    }
  }

  private async baseline(sessionId: string, projectPath: string): Promise<Baseline> {
    const root = await this.opts.resolveRoot(projectPath).catch((error) => {
      throw new ChangeError('not_found', (error as Error).message)
    })
    const top = await gitTopLevel(root)
    const baseline = top
      ? await gitBaseline(top)
      : snapshotBaseline(root, join(this.opts.snapshotsDir, sessionId))
    this.watch(sessionId, baseline.root)
    return baseline
  }

  private async run(cmd: CommandOf<'changes.request'>): Promise<unknown> {
    const baseline = await this.baseline(cmd.session_id, cmd.project_path)
    switch (cmd.op) {
      case 'list':
        return listChanges(baseline)
      case 'diff': {
        const path = checkPath(cmd.path)
        const diff = await fileDiff(baseline, path)
        if (!diff) throw new ChangeError('not_found', `${path} has no changes`)
        return diff
      }
      case 'revert_file': {
        const path = checkPath(cmd.path)
        await baseline.restore(path)
        return { path, reverted: true }
      }
      case 'revert_hunk':
        if (!cmd.hunk_id) throw new ChangeError('invalid', 'A hunk_id is required')
        return revertHunk(baseline, checkPath(cmd.path), cmd.hunk_id)
      case 'stage': {
        if (baseline.kind !== 'git') throw new ChangeError('invalid', 'Staging needs a git work tree')
        const paths = (cmd.paths ?? []).map(checkPath)
        await gitOk(baseline.root, ['add', '-A', '--', ...(paths.length > 0 ? paths : ['.'])])
        return { staged: paths.length > 0 ? paths : 'all' }
      }
      case 'commit': {
        if (baseline.kind !== 'git') throw new ChangeError('invalid', 'Committing needs a git work tree')
        const message = cmd.message?.trim()
        if (!message) throw new ChangeError('invalid', 'A commit message is required')
        const identity = await gitOk(baseline.root, ['config', 'user.email']).catch(() => new Uint8Array())
        const fallback =
          identity.length > 0 ? [] : ['-c', 'user.name=Open ACE', '-c', 'user.email=open-ace@localhost']
        await gitOk(baseline.root, [...fallback, 'commit', '-q', '-m', message])
        const sha = new TextDecoder().decode(await gitOk(baseline.root, ['rev-parse', 'HEAD'])).trim()
        return { commit: sha }
      }
    }
  }

  private watch(sessionId: string, root: string) {
    const existing = this.watched.get(sessionId)
    if (existing) {
      existing.lastAsked = Date.now()
      return
    }
    try {
      const entry: Watched = { lastAsked: Date.now(), watcher: undefined as unknown as FSWatcher }
      entry.watcher = watch(root, { recursive: true }, (_event, file) => {
        const name = String(file ?? '')
        if (name === '.git' || name.startsWith(`.git/`) || name.includes('/node_modules/')) {
          if (!name.endsWith('index') && !name.endsWith('HEAD')) return
        }
        if (Date.now() - entry.lastAsked > WATCH_IDLE_MS) return this.unwatch(sessionId)
        clearTimeout(entry.timer)
        entry.timer = setTimeout(
          () => this.opts.emit({ type: 'changes.updated', session_id: sessionId }),
          CHANGES_DEBOUNCE_MS,
        )
      })
      entry.watcher.on('error', () => this.unwatch(sessionId))
      this.watched.set(sessionId, entry)
    } catch (error) {
      this.opts.log.warn('cannot watch the project for changes', {
        session_id: sessionId,
        error: (error as Error).message,
      })
    }
  }

  private unwatch(sessionId: string) {
    const entry = this.watched.get(sessionId)
    if (!entry) return
    clearTimeout(entry.timer)
    entry.watcher.close()
    this.watched.delete(sessionId)
  }

  stopAll() {
    for (const id of [...this.watched.keys()]) this.unwatch(id)
  }
}
