// What the project is compared against: HEAD for a git work tree, or a snapshot the agent took
// when the session started for any other directory. Each answers the same three questions:
// which paths may have changed, what a path held before, and how to put a whole file back.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { MAX_CHANGED_FILES, MAX_DIFF_FILE_BYTES } from '../../protocol/index.ts'
import { git, gitOk } from './git.ts'

export interface Baseline {
  kind: 'git' | 'snapshot'
  root: string
  branch?: string
  /** Paths that may differ from the baseline (a superset is fine), with git's staged flag. */
  candidates(): Promise<Map<string, { staged?: boolean }>>
  /** The path's content in the baseline; null = it did not exist. */
  base(path: string): Promise<Uint8Array | null>
  /** Puts the whole file back as the baseline has it (deleting it if it did not exist). */
  restore(path: string): Promise<void>
}

/** Directories a snapshot never copies (dependencies and VCS data, rebuilt rather than edited). */
const SNAPSHOT_SKIP = new Set(['.git', 'node_modules', '.hg', '.svn', '__pycache__', '.venv'])
/** A snapshot stops copying past this many bytes in all. */
const SNAPSHOT_MAX_BYTES = 200 * 1024 * 1024

const decoder = new TextDecoder()

export async function gitBaseline(root: string): Promise<Baseline> {
  const head = await git(root, ['rev-parse', '--verify', '-q', 'HEAD'])
  const hasHead = head.code === 0
  const branch = decoder.decode((await git(root, ['branch', '--show-current'])).stdout).trim()
  return {
    kind: 'git',
    root,
    ...(branch ? { branch } : {}),
    async candidates() {
      const out = decoder.decode(
        await gitOk(root, ['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames']),
      )
      const paths = new Map<string, { staged?: boolean }>()
      for (const entry of out.split('\0')) {
        if (entry.length < 4) continue
        const x = entry[0]
        paths.set(entry.slice(3), { staged: x !== ' ' && x !== '?' })
      }
      return paths
    },
    async base(path) {
      if (!hasHead) return null
      const result = await git(root, ['cat-file', 'blob', `HEAD:${path}`])
      return result.code === 0 ? result.stdout : null
    },
    async restore(path) {
      const inHead = hasHead && (await git(root, ['cat-file', '-e', `HEAD:${path}`])).code === 0
      if (inHead) {
        await gitOk(root, ['checkout', 'HEAD', '--', path])
        return
      }
      await git(root, ['rm', '-q', '--cached', '--ignore-unmatch', '--', path])
      rmSync(join(root, path), { force: true })
    },
  }
}

function* walk(root: string, dir = root): Generator<string> {
  let entries: import('node:fs').Dirent[]
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return
  }
  for (const entry of entries) {
    if (entry.isDirectory()) {
      if (!SNAPSHOT_SKIP.has(entry.name)) yield* walk(root, join(dir, entry.name))
    } else if (entry.isFile()) yield relative(root, join(dir, entry.name)).split(sep).join('/')
  }
}

const digest = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex')

interface Manifest {
  root: string
  files: Record<string, { size: number; sha256: string }>
}

/** Copies the project's files (up to the limits) into `dir`; does nothing if it holds one already. */
export function takeSnapshot(root: string, dir: string) {
  const manifestPath = join(dir, 'manifest.json')
  if (existsSync(manifestPath)) return
  const manifest: Manifest = { root, files: {} }
  let total = 0
  let count = 0
  for (const path of walk(root)) {
    const size = statSync(join(root, path)).size
    if (size > MAX_DIFF_FILE_BYTES || total + size > SNAPSHOT_MAX_BYTES || count >= MAX_CHANGED_FILES * 10)
      continue
    const bytes = readFileSync(join(root, path))
    const copy = join(dir, 'files', path)
    mkdirSync(dirname(copy), { recursive: true })
    writeFileSync(copy, bytes)
    manifest.files[path] = { size, sha256: digest(bytes) }
    total += size
    count++
  }
  mkdirSync(dir, { recursive: true })
  writeFileSync(manifestPath, JSON.stringify(manifest))
}

export function snapshotBaseline(root: string, dir: string): Baseline {
  const manifestPath = join(dir, 'manifest.json')
  if (!existsSync(manifestPath))
    throw new Error('No snapshot of this project was taken when the session started')
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest
  return {
    kind: 'snapshot',
    root,
    async candidates() {
      const paths = new Map<string, { staged?: boolean }>()
      const seen = new Set<string>()
      for (const path of walk(root)) {
        seen.add(path)
        const known = manifest.files[path]
        const full = join(root, path)
        const size = statSync(full).size
        if (!known) {
          paths.set(path, {})
          continue
        }
        if (size !== known.size || digest(readFileSync(full)) !== known.sha256) paths.set(path, {})
      }
      for (const path of Object.keys(manifest.files)) if (!seen.has(path)) paths.set(path, {})
      return paths
    },
    async base(path) {
      return manifest.files[path] ? new Uint8Array(readFileSync(join(dir, 'files', path))) : null
    },
    async restore(path) {
      const full = join(root, path)
      if (!manifest.files[path]) {
        rmSync(full, { force: true })
        return
      }
      mkdirSync(dirname(full), { recursive: true })
      writeFileSync(full, readFileSync(join(dir, 'files', path)))
    },
  }
}
