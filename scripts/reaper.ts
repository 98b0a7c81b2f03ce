// The test runners' last check: nothing the suite started is still running when it ends.
//
// On Linux the runner makes itself a child subreaper (prctl PR_SET_CHILD_SUBREAPER), so every
// process a test started and left behind (a server, an agent, a sandboxed CLI, a Deno child) is
// re-parented to the runner instead of to init, however deep it was. Once `bun test` has exited,
// any live child of the runner is such a leftover: it is named, ended with its group, and the run
// fails. Elsewhere the check is not available and says so.
import { dlopen, FFIType } from 'bun:ffi'
import { readdirSync, readFileSync } from 'node:fs'

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
export async function endLeftovers(): Promise<Leftover[]> {
  const deadline = Date.now() + GRACE_MS
  let left = liveChildren()
  while (left.length > 0 && Date.now() < deadline) {
    await Bun.sleep(100)
    left = liveChildren()
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
  const proc = Bun.spawn(argv, { cwd, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit' })
  const status = await proc.exited
  if (!reaping) {
    console.log('leftover process check: not available on this platform (needs Linux prctl)')
    process.exit(status)
  }
  const left = await endLeftovers()
  if (left.length === 0) {
    console.log('leftover process check: nothing the suite started is still running')
    process.exit(status)
  }
  console.error(`leftover process check: ${left.length} process(es) the suite started were still running:`)
  for (const { pid, command } of left) console.error(`  pid ${pid}: ${command}`)
  process.exit(status === 0 ? 1 : status)
}
