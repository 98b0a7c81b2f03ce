// Starting a shell on a pseudo-terminal: Bun's own PTY (`Bun.spawn({ terminal })`, POSIX only,
// no native addon, so it works inside the compiled agent). Windows has no PTY in Bun, so the
// terminal is reported unavailable there rather than faked over pipes.
import { IS_WINDOWS } from '../spawn.ts'

export interface PtyHandle {
  readonly pid: number
  write(bytes: Uint8Array): void
  resize(cols: number, rows: number): void
  kill(): void
  readonly exited: Promise<number | null>
}

export interface PtyOptions {
  cwd: string
  env: Record<string, string>
  cols: number
  rows: number
  onData(bytes: Uint8Array): void
}

export type SpawnPty = (argv: string[], options: PtyOptions) => PtyHandle

/** Why terminals cannot run here, or null when they can. */
export const ptyUnavailableReason: string | null = IS_WINDOWS
  ? 'Terminals are not available on Windows agents yet (Bun offers no ConPTY)'
  : null

export const spawnBunPty: SpawnPty = (argv, options) => {
  const proc = Bun.spawn(argv, {
    cwd: options.cwd,
    env: options.env,
    terminal: {
      cols: options.cols,
      rows: options.rows,
      name: 'xterm-256color',
      data: (_terminal, bytes) => options.onData(bytes),
    },
  })
  const terminal = proc.terminal as NonNullable<typeof proc.terminal>
  return {
    pid: proc.pid,
    write: (bytes) => {
      if (!terminal.closed) terminal.write(bytes)
    },
    resize: (cols, rows) => {
      if (!terminal.closed) terminal.resize(cols, rows)
    },
    kill: () => {
      try {
        process.kill(-proc.pid, 'SIGHUP')
      } catch {
        proc.kill('SIGHUP')
      }
      setTimeout(() => {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL')
      }, 2000).unref()
    },
    exited: proc.exited.then((code) => {
      terminal.close()
      return code
    }),
  }
}

/** For agents built without terminals (unit tests): refuses every shell. */
export const noPty: SpawnPty = () => {
  throw new Error('this agent has no PTY')
}

/** What a shell needs to know about the browser terminal it draws on. */
export const TERMINAL_ENV = { TERM: 'xterm-256color', COLORTERM: 'truecolor' }

/** The user's login shell, else bash, else sh. */
export function defaultShell(env: Record<string, string | undefined>): string[] {
  const shell = env.SHELL && env.SHELL.length > 0 ? env.SHELL : Bun.which('bash') ? 'bash' : 'sh'
  return [shell, '-i']
}
