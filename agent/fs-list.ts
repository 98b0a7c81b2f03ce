// fs.list: one directory level (name, type, size, mtime), confined to the configured roots.
// Both the path and the roots are resolved through symlinks before the containment check, so
// neither `../` nor a link pointing outside a root reaches anything beyond it.
import type * as nodeFs from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, isAbsolute, join, resolve, sep } from 'node:path'
import type { FsEntry } from '../protocol/index.ts'

/** Most entries one answer carries; a huge directory is cut, never streamed whole. */
export const MAX_LIST_ENTRIES = 5000

export type FsApi = Pick<typeof nodeFs, 'realpath' | 'stat' | 'lstat' | 'readdir'>

export class FsAccessError extends Error {
  override name = 'FsAccessError'
}

function describe(err: unknown, path: string): FsAccessError {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return new FsAccessError(`No such directory: ${path}`)
  if (code === 'EACCES' || code === 'EPERM') return new FsAccessError(`Permission denied: ${path}`)
  return new FsAccessError(`Cannot read ${path}: ${(err as Error).message}`)
}

const within = (path: string, root: string) =>
  path === root || path.startsWith(root.endsWith(sep) ? root : root + sep)

const outsideRoots = (path: string) =>
  new FsAccessError(`Access denied: ${path} is outside the allowed directories`)

/** The real location of the deepest part of `path` that exists (or null when nothing does). */
async function realExistingAncestor(fs: FsApi, path: string): Promise<string | null> {
  for (let current = path; ; current = dirname(current)) {
    const real = await fs.realpath(current).catch(() => null)
    if (real !== null || dirname(current) === current) return real
  }
}

/**
 * Resolves `path` (absolute, or starting with ~) to its real location inside one of `roots`.
 * Everything outside the roots gets the one "outside" answer, whether it exists or not: a
 * missing path is only "No such directory" when the part of it that exists is inside a root,
 * so browsing cannot be used to probe what exists elsewhere on the machine.
 */
export async function resolveConfined(fs: FsApi, path: string, roots: readonly string[]): Promise<string> {
  const expanded = path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path
  if (!isAbsolute(expanded)) throw new FsAccessError(`Path must be absolute: ${path}`)
  const realRoots = await Promise.all(roots.map((r) => fs.realpath(resolve(r)).catch(() => null)))
  const inside = (real: string) => realRoots.some((root) => root !== null && within(real, root))
  const target = resolve(expanded)
  let real: string
  try {
    real = await fs.realpath(target)
  } catch (err) {
    const ancestor = await realExistingAncestor(fs, dirname(target))
    if (ancestor === null || !inside(ancestor)) throw outsideRoots(path)
    throw describe(err, path)
  }
  if (!inside(real)) throw outsideRoots(path)
  return real
}

function entryType(stat: {
  isFile(): boolean
  isDirectory(): boolean
  isSymbolicLink(): boolean
}): FsEntry['type'] {
  if (stat.isSymbolicLink()) return 'symlink'
  if (stat.isDirectory()) return 'dir'
  if (stat.isFile()) return 'file'
  return 'other'
}

/** Lists one directory; throws FsAccessError with a message fit to show the user. */
export async function listDirectory(
  fs: FsApi,
  path: string,
  roots: readonly string[],
): Promise<{ path: string; entries: FsEntry[] }> {
  const real = await resolveConfined(fs, path, roots)
  let names: string[]
  try {
    if (!(await fs.stat(real)).isDirectory()) throw new FsAccessError(`Not a directory: ${path}`)
    names = await fs.readdir(real)
  } catch (err) {
    throw err instanceof FsAccessError ? err : describe(err, path)
  }
  const entries: FsEntry[] = []
  for (const name of names.slice(0, MAX_LIST_ENTRIES)) {
    try {
      const st = await fs.lstat(join(real, name))
      const type = entryType(st)
      entries.push({
        name,
        type,
        ...(type === 'file' ? { size: st.size } : {}),
        modified_at: st.mtime.toISOString(),
      })
    } catch {
      // Deleted between readdir and lstat: leave it out.
    }
  }
  entries.sort((a, b) => Number(b.type === 'dir') - Number(a.type === 'dir') || a.name.localeCompare(b.name))
  return { path: real, entries }
}
