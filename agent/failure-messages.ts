// Why a session could not start, in words for the person at the browser (the server shows them
// as the session's error): a missing folder, a folder outside the allowed roots, a CLI that is
// not installed (with the command that installs it), a CLI that would not start.
import type { CliAdapter } from './adapters/types.ts'

export function projectPathProblem(path: string, err: Error, roots: readonly string[]): string {
  const text = err.message
  if (/outside the allowed/.test(text))
    return `${path} is outside the folders sessions may use on this machine (${roots.join(', ')})`
  if (/No such directory/.test(text)) return `The folder ${path} does not exist on this machine`
  if (/Not a directory/.test(text)) return `${path} is a file, not a folder`
  if (/Permission denied/.test(text)) return `The agent may not open ${path} (permission denied)`
  return text
}

/** A spawn error: ENOENT means the CLI is not installed (the usual case), anything else is said as is. */
export function spawnProblem(adapter: CliAdapter, err: Error): { message: string; code: string } {
  const install =
    adapter.installCommand.length > 0 ? ` Install it with: ${adapter.installCommand.join(' ')}` : ''
  const code = (err as Error & { code?: string }).code
  if (code === 'ENOENT' || /not found|ENOENT|No such file/i.test(err.message)) {
    return {
      message: `${adapter.name} is not installed on this machine (no '${adapter.executable}' on the agent's PATH).${install}`,
      code: 'cli_not_installed',
    }
  }
  return { message: `Could not start ${adapter.executable}: ${err.message}.${install}`, code: 'spawn_failed' }
}
