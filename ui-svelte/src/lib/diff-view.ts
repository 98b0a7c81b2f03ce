// Diffs as the UI shows them: diff2html (a maintained renderer of unified diffs, side by side
// or unified) turns a patch into HTML and DOMPurify makes sure nothing in a file's text becomes
// markup. Shared by the changes panel and the permission prompts (edit-patch.ts). Its colours
// follow the page's theme (read reactively, so a theme switch redraws the diff).
import { html as diffHtml } from 'diff2html'
import 'diff2html/bundles/css/diff2html.min.css'
import { ColorSchemeType } from 'diff2html/lib-esm/types'
import DOMPurify from 'dompurify'
import type { ChangedFile, DiffHunk } from './api.ts'
import { currentTheme } from './theme.svelte.ts'

export type DiffLayout = 'side-by-side' | 'line-by-line'

/** The HTML of a unified diff, safe to put in the page. */
export function renderDiff(patch: string, layout: DiffLayout): string {
  const html = diffHtml(patch, {
    drawFileList: false,
    outputFormat: layout,
    matching: 'lines',
    colorScheme: currentTheme() === 'dark' ? ColorSchemeType.DARK : ColorSchemeType.LIGHT,
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
