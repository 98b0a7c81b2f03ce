// The patch of a file edit a CLI asks permission to make, built from the tool's input with
// jsdiff (`diff`, the differ diff2html itself uses), so the prompt shows the exact change.
import { createTwoFilesPatch } from 'diff'

interface Replacement {
  old_string: string
  new_string: string
}
const isReplacement = (value: unknown): value is Replacement =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Replacement).old_string === 'string' &&
  typeof (value as Replacement).new_string === 'string'

const withNewline = (text: string) => (text === '' || text.endsWith('\n') ? text : `${text}\n`)

/**
 * The patch of a file edit a CLI asks to make, from its tool input: a replacement
 * (old_string -> new_string: Claude's Edit, Qwen's and Gemini's replace), several of them
 * (MultiEdit's edits), or a whole new content (Write, write_file). null when the input is not
 * an edit of a file.
 */
export function proposedEditPatch(input: unknown): { path: string; patch: string; whole: boolean } | null {
  if (typeof input !== 'object' || input === null) return null
  const fields = input as Record<string, unknown>
  const path = [fields.file_path, fields.path, fields.absolute_path].find((p) => typeof p === 'string') as
    | string
    | undefined
  if (!path) return null
  const patchOf = (before: string, after: string) =>
    createTwoFilesPatch(path, path, withNewline(before), withNewline(after), undefined, undefined, {
      context: 3,
    })
  if (isReplacement(fields))
    return { path, patch: patchOf(fields.old_string, fields.new_string), whole: false }
  if (Array.isArray(fields.edits) && fields.edits.length > 0 && fields.edits.every(isReplacement)) {
    const patches = fields.edits.map((edit) => patchOf(edit.old_string, edit.new_string))
    return { path, patch: patches.join('\n'), whole: false }
  }
  if (typeof fields.content === 'string') return { path, patch: patchOf('', fields.content), whole: true }
  return null
}
