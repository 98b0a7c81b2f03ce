// Per-file diffs and hunk reverts with the `diff` library (structuredPatch, reversePatch,
// applyPatch): a maintained implementation of unified diffs, so hunks here match what git and
// diff renderers show. A hunk's id is a hash of its header and lines: reverting a hunk that
// changed since the user saw it is refused instead of guessed at.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { applyPatch, formatPatch, reversePatch, structuredPatch } from 'diff'
import {
  type ChangedFile,
  type ChangesList,
  type DiffHunk,
  type FileDiff,
  MAX_CHANGED_FILES,
  MAX_DIFF_FILE_BYTES,
} from '../../protocol/index.ts'
import type { Baseline } from './baseline.ts'

export class ChangeError extends Error {
  constructor(
    readonly code: 'conflict' | 'not_found' | 'invalid' | 'failed',
    message: string,
  ) {
    super(message)
  }
}

const decoder = new TextDecoder()
const isBinary = (bytes: Uint8Array) => bytes.subarray(0, 8000).includes(0)

function current(root: string, path: string): Uint8Array | null {
  const full = join(root, path)
  if (!existsSync(full) || !statSync(full).isFile()) return null
  return new Uint8Array(readFileSync(full))
}

const hunkId = (
  path: string,
  h: { oldStart: number; oldLines: number; newStart: number; newLines: number; lines: string[] },
) =>
  createHash('sha256')
    .update(`${path}\0${h.oldStart},${h.oldLines},${h.newStart},${h.newLines}\0${h.lines.join('\n')}`)
    .digest('hex')
    .slice(0, 16)

export async function fileDiff(baseline: Baseline, path: string, staged?: boolean): Promise<FileDiff | null> {
  const before = await baseline.base(path)
  const after = current(baseline.root, path)
  if (before === null && after === null) return null
  const status: ChangedFile['status'] = before === null ? 'added' : after === null ? 'deleted' : 'modified'
  const head = { path, status, ...(staged !== undefined ? { staged } : {}) }
  const empty = new Uint8Array()
  const a = before ?? empty
  const b = after ?? empty
  if (a.length > MAX_DIFF_FILE_BYTES || b.length > MAX_DIFF_FILE_BYTES || isBinary(a) || isBinary(b)) {
    if (before && after && Buffer.compare(before, after) === 0) return null
    return {
      ...head,
      additions: 0,
      deletions: 0,
      binary: isBinary(a) || isBinary(b),
      hunks: [],
      patch: '',
      too_large: true,
    }
  }
  const patch = structuredPatch(path, path, decoder.decode(a), decoder.decode(b), '', '', { context: 3 })
  if (patch.hunks.length === 0) return null
  const hunks: DiffHunk[] = patch.hunks.map((h) => ({
    id: hunkId(path, h),
    old_start: h.oldStart,
    old_lines: h.oldLines,
    new_start: h.newStart,
    new_lines: h.newLines,
    lines: h.lines,
  }))
  let additions = 0
  let deletions = 0
  for (const h of patch.hunks)
    for (const line of h.lines) {
      if (line.startsWith('+')) additions++
      else if (line.startsWith('-')) deletions++
    }
  const text = formatPatch({ ...patch, oldFileName: `a/${path}`, newFileName: `b/${path}` })
  return { ...head, additions, deletions, binary: false, hunks, patch: text }
}

export async function listChanges(baseline: Baseline): Promise<ChangesList> {
  const candidates = await baseline.candidates()
  const files: ChangedFile[] = []
  for (const [path, { staged }] of [...candidates].sort(([a], [b]) => a.localeCompare(b))) {
    if (files.length >= MAX_CHANGED_FILES) break
    const diff = await fileDiff(baseline, path, staged)
    if (!diff) continue
    const { hunks: _h, patch: _p, too_large: _t, ...file } = diff
    files.push(file)
  }
  return {
    kind: baseline.kind,
    root: baseline.root,
    ...(baseline.branch ? { branch: baseline.branch } : {}),
    files,
  }
}

export async function revertHunk(baseline: Baseline, path: string, id: string) {
  const diff = await fileDiff(baseline, path)
  const hunk = diff?.hunks.find((h) => h.id === id)
  if (!diff || !hunk)
    throw new ChangeError('conflict', `${path} changed since this hunk was shown; reload the diff`)
  const forward = {
    oldFileName: path,
    newFileName: path,
    oldHeader: '',
    newHeader: '',
    hunks: [
      {
        oldStart: hunk.old_start,
        oldLines: hunk.old_lines,
        newStart: hunk.new_start,
        newLines: hunk.new_lines,
        lines: hunk.lines,
      },
    ],
  }
  const now = decoder.decode(current(baseline.root, path) ?? new Uint8Array())
  const reverted = applyPatch(now, reversePatch(forward))
  if (reverted === false)
    throw new ChangeError('conflict', `The hunk no longer applies to ${path}; reload the diff`)
  const full = join(baseline.root, path)
  if (diff.status === 'added' && reverted === '') {
    await baseline.restore(path)
  } else {
    mkdirSync(dirname(full), { recursive: true })
    writeFileSync(full, reverted)
  }
  return { path, reverted_hunk: id }
}
