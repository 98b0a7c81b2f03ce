// Starting CLI processes, behind a small interface so the executor can be tested without real
// processes. The real one puts each CLI in its own process group (setsid) so a signal reaches
// every child it started; on Windows the whole tree is ended with taskkill /T.
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
    signal: (sig) => signalTree(proc.pid, sig, (s) => proc.kill(s)),
    stdoutLines: readLines(proc.stdout),
    stderrLines: readLines(proc.stderr),
    exited: proc.exited.then((code) => ({
      code: proc.signalCode ? null : code,
      signal: proc.signalCode ? String(proc.signalCode) : null,
    })),
  }
}
