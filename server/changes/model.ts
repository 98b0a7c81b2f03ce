// Request and response shapes of the changes API. The answers are the agent's (its
// changes.result), typed by the wire contract per op.
import type { TSchema } from '@sinclair/typebox'
import { t } from 'elysia'
import { type ChangeOp, ChangesList, FileDiff, MAX_CHANGED_FILES } from '../../protocol/index.ts'

const Path = t.String({ minLength: 1, maxLength: 4096 })
export const SessionIdParams = t.Object({ id: t.String({ format: 'uuid' }) })
export const DiffQuery = t.Object({ path: Path })
export const RevertBody = t.Object({
  path: Path,
  /** Revert only this hunk (its id from the diff); without it the whole file is reverted. */
  hunk_id: t.Optional(t.String({ minLength: 1, maxLength: 128 })),
})
export const StageBody = t.Object({ paths: t.Optional(t.Array(Path, { maxItems: MAX_CHANGED_FILES })) })
export const CommitBody = t.Object({ message: t.String({ minLength: 1, maxLength: 10_000 }) })

const RevertedFile = t.Object({ path: t.String(), reverted: t.Literal(true) })
const RevertedHunk = t.Object({ path: t.String(), reverted_hunk: t.String() })

/** What each op answers (agent/changes/changes-host.ts), checked before it is passed on. */
export const CHANGES_ANSWERS = {
  list: ChangesList,
  diff: FileDiff,
  revert_file: RevertedFile,
  revert_hunk: RevertedHunk,
  stage: t.Object({ staged: t.Union([t.Array(t.String()), t.Literal('all')]) }),
  commit: t.Object({ commit: t.String({ description: 'The new commit' }) }),
} satisfies Record<ChangeOp, TSchema>
export const RevertAnswer = t.Union([RevertedFile, RevertedHunk])
