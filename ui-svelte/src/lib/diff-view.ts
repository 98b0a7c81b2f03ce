// Diffs as the UI shows them: diff2html (a maintained renderer of unified diffs, side by side
// or unified) turns a patch into HTML, DOMPurify makes sure nothing in a file's text becomes
// markup, and jsdiff (`diff`) builds the patch of an edit a CLI asks permission for, so the user
// approves the exact change. Shared by the changes panel and the permission prompts.
import { createTwoFilesPatch } from 'diff'
import { html as diffHtml } from 'diff2html'
import 'diff2html/bundles/css/diff2html.min.css'
import DOMPurify from 'dompurify'
import type { ChangedFile, DiffHunk } from './api.ts'

export type DiffLayout = 'side-by-side' | 'line-by-line'

/** The HTML of a unified diff, safe to put in the page. */
export function renderDiff(patch: string, layout: DiffLayout): string {
  const html = diffHtml(patch, {
    drawFileList: false,
    outputFormat: layout,
    matching: 'lines',
  })
  return DOMPurify.sanitize(html)
}

/** One hunk of a file as a patch of its own, so each hunk renders with its own revert button. */
export function hunkPatch(file: Pick<ChangedFile, 'path' | 'status'>, hunk: DiffHunk): string {
  const from = file.status === 'added' ? '/dev/null' : `a/${file.path}`
  const to = file.status === 'deleted' ? '/dev/null' : `b/${file.path}`
  const range = `@@ -${hunk.old_start},${hunk.old_lines} +${hunk.new_start},${hunk.new_lines} @@`
  return `--- ${from}\n+++ ${to}\n${range}\n${hunk.lines.join('\n')}\n`
}

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
