// The changes panel's wire: what the CLI changed in a session's project (a git work tree
// against HEAD, or any directory against a snapshot the agent took when the session started),
// with per-file hunks, and the actions on them. One command, one answer frame per request,
// and a nudge frame when the tree changed so the panel refreshes.
import { type Static, Type } from '@sinclair/typebox'
import { Id, oneOf } from './common.ts'

export const CHANGE_OPS = ['list', 'diff', 'revert_file', 'revert_hunk', 'stage', 'commit'] as const
export type ChangeOp = (typeof CHANGE_OPS)[number]
export const FILE_CHANGE_STATUSES = ['modified', 'added', 'deleted'] as const
/** Largest file the agent diffs (bigger ones are listed without hunks). */
export const MAX_DIFF_FILE_BYTES = 1024 * 1024
export const MAX_CHANGED_FILES = 2000

/** A path relative to the project root, never leaving it. */
export const ProjectPath = Type.String({ minLength: 1, maxLength: 4096 })

export const ChangesRequest = Type.Object({
  request_id: Id,
  session_id: Id,
  /** The session's project directory (the server's record of it). */
  project_path: Type.String({ minLength: 1 }),
  op: oneOf(CHANGE_OPS),
  path: Type.Optional(ProjectPath),
  hunk_id: Type.Optional(Type.String({ maxLength: 128 })),
  paths: Type.Optional(Type.Array(ProjectPath, { maxItems: MAX_CHANGED_FILES })),
  message: Type.Optional(Type.String({ maxLength: 10_000 })),
})

export const ChangedFile = Type.Object({
  path: Type.String(),
  status: oneOf(FILE_CHANGE_STATUSES),
  additions: Type.Integer({ minimum: 0 }),
  deletions: Type.Integer({ minimum: 0 }),
  binary: Type.Boolean(),
  /** Git trees: the change is staged for the next commit. */
  staged: Type.Optional(Type.Boolean()),
})
export type ChangedFile = Static<typeof ChangedFile>

export const DiffHunk = Type.Object({
  /** Names this exact hunk: a revert of a hunk that changed since it was shown is refused. */
  id: Type.String(),
  old_start: Type.Integer(),
  old_lines: Type.Integer(),
  new_start: Type.Integer(),
  new_lines: Type.Integer(),
  /** Unified diff lines, each starting with ' ', '-' or '+' (or '\\' for "no newline"). */
  lines: Type.Array(Type.String()),
})
export type DiffHunk = Static<typeof DiffHunk>

export const FileDiff = Type.Object({
  ...ChangedFile.properties,
  hunks: Type.Array(DiffHunk),
  /** The whole file's unified diff, for renderers that take one. */
  patch: Type.String(),
  /** Too big or binary: listed, not diffed. */
  too_large: Type.Optional(Type.Boolean()),
})
export type FileDiff = Static<typeof FileDiff>

export const ChangesList = Type.Object({
  kind: Type.Union([Type.Literal('git'), Type.Literal('snapshot')]),
  root: Type.String(),
  branch: Type.Optional(Type.String()),
  files: Type.Array(ChangedFile),
})
export type ChangesList = Static<typeof ChangesList>
