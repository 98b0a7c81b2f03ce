// The test runners' last check: nothing the suite started is still running when it ends.
//
// On Linux the runner makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so every
// process a test started and left behind (a server, an agent, a sandboxed CLI, a Deno child) is
// re-parented to the runner instead of to init, however deep it was. Once `bun test` has exited,
// any live child of the runner is such a leftover: it is named, ended with its group, and the run
// fails. Elsewhere the check is not available and says so.
//
// A test that starts something meant to outlive the suite (the Postgres chaos test restarts the
// machine's Postgres server) names its pid with keepRunning(); the check leaves those alone.
import { dlopen, FFIType } from 'bun:ffi'
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/** The file (named in this variable for the suite) listing pids meant to outlive the suite. */
export const KEEP_FILE_ENV = 'OPENACE_TEST_KEEP_PIDS'

/** From inside a test: `pid` was started on purpose to outlive the suite (a system service). */
export function keepRunning(pid: number): void {
  const file = process.env[KEEP_FILE_ENV]
  if (file) appendFileSync(file, `${pid}\n`)
}

function keptPids(file: string): Set<number> {
  try {
    return new Set(readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number))
  } catch {
    return new Set()
  }
}

const PR_SET_CHILD_SUBREAPER = 36
const GRACE_MS = 3000

export interface Leftover {
  pid: number
  command: string
}

/** Becomes the subreaper of everything started after this call; false where Linux's prctl is missing. */
export function becomeSubreaper(): boolean {
  if (process.platform !== 'linux') return false
  try {
    const libc = dlopen('libc.so.6', {
      prctl: {
        args: [FFIType.i32, FFIType.u64, FFIType.u64, FFIType.u64, FFIType.u64],
        returns: FFIType.i32,
      },
    })
    return libc.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) === 0
  } catch {
    return false
  }
}

/** Live (not zombie) processes whose parent is this process. */
function liveChildren(): Leftover[] {
  const found: Leftover[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      // pid (comm) state ppid ...: comm may hold spaces and parentheses, so read after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(ppid) !== process.pid || state === 'Z') continue
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim()
      found.push({ pid: Number(name), command })
    } catch {
      // gone while we looked
    }
  }
  return found
}

/**
 * After the suite's own process has exited: waits briefly for processes still ending, then
 * ends what is left (with its group) and returns it.
 */
export async function endLeftovers(kept: ReadonlySet<number> = new Set()): Promise<Leftover[]> {
  const deadline = Date.now() + GRACE_MS
  const unkept = () => liveChildren().filter((c) => !kept.has(c.pid))
  let left = unkept()
  while (left.length > 0 && Date.now() < deadline) {
    await Bun.sleep(100)
    left = unkept()
  }
  for (const { pid } of left) {
    for (const target of [-pid, pid]) {
      try {
        process.kill(target, 'SIGKILL')
      } catch {
        // no such group, or already gone
      }
    }
  }
  return left
}

/** Runs `argv` as the suite and exits with its status, failing it if it left processes running. */
export async function runSuite(argv: string[], cwd: string): Promise<never> {
  const reaping = becomeSubreaper()
  const keepDir = mkdtempSync(join(tmpdir(), 'oa-keep-'))
  const keepFile = join(keepDir, 'pids')
  const proc = Bun.spawn(argv, {
    cwd,
    stdin: 'ignore',
    stdout: 'inherit',
    stderr: 'inherit',
    env: { ...process.env, [KEEP_FILE_ENV]: keepFile },
  })
  const status = await proc.exited
  const kept = keptPids(keepFile)
  rmSync(keepDir, { recursive: true, force: true })
  if (!reaping) {
    console.log('leftover process check: not available on this platform (needs Linux prctl)')
    process.exit(status)
  }
  const left = await endLeftovers(kept)
  if (left.length === 0) {
    console.log('leftover process check: nothing the suite started is still running')
    process.exit(status)
  }
  console.error(`leftover process check: ${left.length} process(es) the suite started were still running:`)
  for (const { pid, command } of left) console.error(`  pid ${pid}: ${command}`)
  process.exit(status === 0 ? 1 : status)
}
