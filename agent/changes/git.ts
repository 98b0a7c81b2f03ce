// Running git in a project for the changes panel: one small wrapper so every call has the
// same environment (no pager, no prompts, C locale) and a clear error when git fails.

export interface GitResult {
  code: number
  stdout: Uint8Array
  stderr: string
}

const GIT_ENV = { GIT_PAGER: 'cat', GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' }

export async function git(root: string, args: string[], stdin?: Uint8Array): Promise<GitResult> {
  const proc = Bun.spawn(['git', '-C', root, ...args], {
    env: { ...process.env, ...GIT_ENV },
    stdin: stdin ?? 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).bytes(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  return { code, stdout, stderr }
}

export async function gitOk(root: string, args: string[]): Promise<Uint8Array> {
  const result = await git(root, args)
  if (result.code !== 0)
    throw new Error(`git ${args[0]} failed: ${result.stderr.trim() || `exit ${result.code}`}`)
  return result.stdout
}

/** The work tree's top directory, or null when `dir` is not in a git work tree (or git is missing). */
export async function gitTopLevel(dir: string): Promise<string | null> {
  try {
    const result = await git(dir, ['rev-parse', '--show-toplevel'])
    return result.code === 0 ? new TextDecoder().decode(result.stdout).trim() : null
  } catch {
    return null
  }
}
