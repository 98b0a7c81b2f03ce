// What a tool call does, read from its input the way the CLIs name things (Qwen Code, Claude
// Code, Gemini and Codex differ in tool names but agree on the fields): a shell command, an edit
// of a file (shown as a diff by ToolInput), a whole-file write, a file read, or something else
// shown as JSON.
export type ToolAction =
  | { kind: 'shell'; command: string }
  | { kind: 'edit'; path: string }
  | { kind: 'write'; path: string }
  | { kind: 'read'; path: string }
  | { kind: 'other' }

type Json = Record<string, unknown>
const str = (v: unknown) => (typeof v === 'string' ? v : undefined)

function filePath(input: Json): string | undefined {
  return str(input.file_path) ?? str(input.absolute_path) ?? str(input.path) ?? str(input.filename)
}

export function toolAction(name: string, input: unknown): ToolAction {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) return { kind: 'other' }
  const fields = input as Json
  const command = Array.isArray(fields.command) ? fields.command.map(String).join(' ') : str(fields.command)
  if (command !== undefined) return { kind: 'shell', command }
  const path = filePath(fields)
  if (path !== undefined && (typeof fields.old_string === 'string' || Array.isArray(fields.edits)))
    return { kind: 'edit', path }
  if (path !== undefined && typeof fields.content === 'string') return { kind: 'write', path }
  if (path !== undefined && /read|view|cat/i.test(name)) return { kind: 'read', path }
  return { kind: 'other' }
}

/** One line saying what a permission answer let run (or not): "run `ls -la`", "edit a.ts". */
export function actionSummary(
  name: string,
  input: unknown,
): { verb: 'run' | 'edit' | 'write' | 'read' | 'use'; what: string } {
  const action = toolAction(name, input)
  switch (action.kind) {
    case 'shell':
      return { verb: 'run', what: action.command }
    case 'edit':
      return { verb: 'edit', what: action.path }
    case 'write':
      return { verb: 'write', what: action.path }
    case 'read':
      return { verb: 'read', what: action.path }
    default:
      return { verb: 'use', what: name }
  }
}
