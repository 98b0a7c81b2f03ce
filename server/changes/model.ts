// Request shapes of the changes API.
import { t } from 'elysia'
import { MAX_CHANGED_FILES } from '../../protocol/index.ts'

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
