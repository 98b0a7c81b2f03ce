// A spawn function for tests: records argv, cwd, env, stdin lines and signals of each child,
// and lets the test write its stdout/stderr lines and end it.
import type { ChildHandle, ProcessSignal, SpawnFn, SpawnOptions } from '../spawn.ts'

class LineQueue implements AsyncIterable<string> {
  private lines: string[] = []
  private waiting: ((r: IteratorResult<string>) => void) | undefined
  private ended = false
  push(line: string) {
    if (this.waiting) {
      const w = this.waiting
      this.waiting = undefined
      w({ value: line, done: false })
    } else this.lines.push(line)
  }
  end() {
    this.ended = true
    this.waiting?.({ value: undefined, done: true })
    this.waiting = undefined
  }
  [Symbol.asyncIterator](): AsyncIterator<string> {
    return {
      next: () => {
        const line = this.lines.shift()
        if (line !== undefined) return Promise.resolve({ value: line, done: false })
        if (this.ended) return Promise.resolve({ value: undefined, done: true })
        return new Promise((resolve) => {
          this.waiting = resolve
        })
      },
    }
  }
}

export class FakeChild implements ChildHandle {
  readonly stdin: string[] = []
  readonly signals: ProcessSignal[] = []
  stdinClosed = false
  readonly stdout = new LineQueue()
  readonly stderr = new LineQueue()
  readonly stdoutLines = this.stdout
  readonly stderrLines = this.stderr
  private resolveExit!: (v: { code: number | null; signal: string | null }) => void
  readonly exited = new Promise<{ code: number | null; signal: string | null }>((r) => {
    this.resolveExit = r
  })
  /** When set, SIGTERM ends the child (a well-behaved CLI); else only SIGKILL does. */
  exitOnTerm = true

  constructor(
    readonly pid: number,
    readonly argv: string[],
    readonly options: SpawnOptions,
  ) {}

  writeLine(line: string) {
    this.stdin.push(line)
  }
  closeStdin() {
    this.stdinClosed = true
  }
  signal(sig: ProcessSignal) {
    this.signals.push(sig)
    if (sig === 'SIGKILL' || (sig === 'SIGTERM' && this.exitOnTerm)) this.exit(null, sig)
  }
  exit(code: number | null, signal: string | null = null) {
    this.stdout.end()
    this.stderr.end()
    this.resolveExit({ code, signal })
  }
}

export function createFakeSpawn(): SpawnFn & { children: FakeChild[] } {
  const children: FakeChild[] = []
  const spawn: SpawnFn = (argv, options) => {
    const child = new FakeChild(1000 + children.length, argv, options)
    children.push(child)
    return child
  }
  return Object.assign(spawn, { children })
}
