// Starting CLI processes, behind a small interface so the executor can be tested without real
// processes. The real one puts each CLI in its own process group (setsid) so a signal reaches
// every child it started; on Windows the whole tree is ended with taskkill /T. A sandbox's
// monitor process is spared interrupts and terminations (they go to what runs inside it).
import { readdirSync, readFileSync } from 'node:fs'
import { MAX_OUTPUT_DATA_CHARS } from '../protocol/index.ts'

export type ProcessSignal = 'SIGTERM' | 'SIGKILL' | 'SIGSTOP' | 'SIGCONT' | 'SIGINT'

export interface ChildHandle {
  readonly pid: number
  writeLine(line: string): void
  closeStdin(): void
  /** Signals the whole process group (POSIX) or ends the whole tree (Windows). */
  signal(sig: ProcessSignal): void
  readonly stdoutLines: AsyncIterable<string>
  readonly stderrLines: AsyncIterable<string>
  readonly exited: Promise<{ code: number | null; signal: string | null }>
}

export interface SpawnOptions {
  cwd: string
  env: Record<string, string>
  /**
   * The process is a sandbox's monitor (bwrap) whose death would take the sandbox down:
   * interrupts and terminations go to the other members of its group, the command inside.
   */
  monitor?: boolean
}

export type SpawnFn = (argv: string[], options: SpawnOptions) => ChildHandle

export const IS_WINDOWS = process.platform === 'win32'

/** Splits a byte stream into lines, cutting any line longer than one output record may carry. */
export async function* readLines(stream: ReadableStream<Uint8Array>): AsyncIterable<string> {
  const decoder = new TextDecoder()
  let buf = ''
  const reader = stream.getReader()
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    buf += decoder.decode(value, { stream: true })
    let nl = buf.indexOf('\n')
    while (nl >= 0 || buf.length > MAX_OUTPUT_DATA_CHARS) {
      const whole = nl >= 0 && nl <= MAX_OUTPUT_DATA_CHARS
      const cut = whole ? nl : MAX_OUTPUT_DATA_CHARS
      yield buf.slice(0, cut).replace(/\r$/, '')
      buf = buf.slice(whole ? cut + 1 : cut)
      nl = buf.indexOf('\n')
    }
  }
  buf += decoder.decode()
  if (buf.length > 0) yield buf
}

/** Members of process group `pgid` other than its leader (Linux /proc; field 5 of stat is pgrp). */
function groupMembers(pgid: number): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === pgid) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      if (Number(fields[2]) === pgid) out.push(Number(entry))
    } catch {
      // Gone meanwhile.
    }
  }
  return out
}

/** SIGINT/SIGTERM to what a monitor runs; true when there was something to signal. */
function signalMembers(pgid: number, sig: ProcessSignal): boolean {
  if (sig !== 'SIGINT' && sig !== 'SIGTERM') return false
  const members = groupMembers(pgid)
  for (const pid of members) {
    try {
      process.kill(pid, sig)
    } catch {
      // Already gone.
    }
  }
  return members.length > 0
}

function signalTree(pid: number, sig: ProcessSignal, kill: (sig: ProcessSignal) => void): void {
  if (IS_WINDOWS) {
    if (sig === 'SIGTERM' || sig === 'SIGKILL') {
      Bun.spawnSync(['taskkill', '/T', '/F', '/PID', String(pid)], { stdout: 'ignore', stderr: 'ignore' })
    } else kill(sig)
    return
  }
  try {
    process.kill(-pid, sig)
  } catch {
    // The group is already gone; fall back to the leader in case it never made its own group.
    try {
      kill(sig)
    } catch {
      // Nothing left to signal.
    }
  }
}

export const spawnProcess: SpawnFn = (argv, options) => {
  const proc = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env,
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    detached: !IS_WINDOWS,
  })
  return {
    pid: proc.pid,
    writeLine(line) {
      proc.stdin.write(`${line}\n`)
      proc.stdin.flush()
    },
    closeStdin() {
      try {
        proc.stdin.end()
      } catch {
        // Already closed.
      }
    },
    signal: (sig) => {
      if (options.monitor && !IS_WINDOWS && signalMembers(proc.pid, sig)) return
      signalTree(proc.pid, sig, (s) => proc.kill(s))
    },
    stdoutLines: readLines(proc.stdout),
    stderrLines: readLines(proc.stderr),
    exited: proc.exited.then((code) => ({
      code: proc.signalCode ? null : code,
      signal: proc.signalCode ? String(proc.signalCode) : null,
    })),
  }
}
