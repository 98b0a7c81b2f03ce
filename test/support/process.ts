// Real server processes for end-to-end tests: `bun server/main.ts` (or the Deno entry) on a
// free loopback port with its own data dir or Postgres database, killable and restartable.
import { existsSync, mkdtempSync, realpathSync } from 'node:fs'
import { createRequire } from 'node:module'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { Subprocess } from 'bun'
import { createPostgresTestDatabase, TEST_DATABASE_URL } from './database.ts'
import { ADMIN_PASSWORD, TEST_SECRET_KEY } from './server.ts'

export const REPO_ROOT = resolve(import.meta.dir, '../..')
/**
 * The Deno executable itself, not node_modules/.bin/deno: that is a Node script which runs deno
 * as its child and dies at once on SIGTERM, so stop() returned while the real server was still
 * shutting down (and serving), or left it running, orphaned. The npm package's own install API
 * finds its platform binary (and places it beside the wrapper, as the wrapper's first run does);
 * the wrapper only when that fails.
 */
function denoBinary(): string {
  const wrapper = join(REPO_ROOT, 'node_modules/.bin/deno')
  try {
    const installApi = join(dirname(realpathSync(wrapper)), 'install_api.cjs')
    const { runInstall } = createRequire(installApi)(installApi) as { runInstall(): string }
    const exe = runInstall()
    return existsSync(exe) ? exe : wrapper
  } catch {
    return wrapper
  }
}
export const DENO_BIN = denoBinary()

/** Ends a process started with `detached: true` together with everything it started (its group). */
export function killGroup(proc: Subprocess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (proc.exitCode !== null || proc.signalCode !== null) return
  try {
    process.kill(-proc.pid, signal)
  } catch {
    proc.kill(signal)
  }
}

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer()
    srv.once('error', fail)
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number }
      srv.close(() => ok(port))
    })
  })
}

export interface ServerProcessOptions {
  runtime?: 'bun' | 'deno'
  port?: number
  /** Defaults: a temp DATA_DIR, and a fresh Postgres database when DATABASE_URL is set. */
  env?: Record<string, string | undefined>
}

export interface ServerProcess {
  url: string
  port: number
  env: Record<string, string>
  proc: Subprocess<'ignore', 'pipe', 'pipe'>
  output(): string
  /** Sends a signal and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number>
}

/** Settings for a server process; reuse the returned env to restart on the same data. */
export async function serverEnv(
  extra: Record<string, string | undefined> = {},
): Promise<Record<string, string>> {
  const env: Record<string, string | undefined> = {
    SECRET_KEY: TEST_SECRET_KEY,
    OPENACE_ADMIN_PASSWORD: ADMIN_PASSWORD,
    DATA_DIR: mkdtempSync(join(tmpdir(), 'oa-proc-')),
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    // The fake upstreams listen on loopback.
    LLM_PROXY_PRIVATE_UPSTREAMS: 'private',
    // Every test agent registers from 127.0.0.1; the limit has its own test.
    REGISTRATION_MAX_PER_IP: '100000',
    DATABASE_URL: TEST_DATABASE_URL ? (await createPostgresTestDatabase()).url : undefined,
    ...extra,
  }
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined))
}

export async function spawnServer(options: ServerProcessOptions = {}): Promise<ServerProcess> {
  const port = options.port ?? (await freePort())
  const env: Record<string, string> = { ...(options.env ?? (await serverEnv())), PORT: String(port) }
  const cmd =
    options.runtime === 'deno'
      ? [DENO_BIN, 'run', '-A', 'server/deno.ts']
      : [process.execPath, 'server/main.ts']
  const { DATABASE_URL: _ignored, ...inherited } = process.env
  const proc = Bun.spawn(cmd, {
    cwd: REPO_ROOT,
    env: { ...inherited, ...env, NODE_ENV: env.NODE_ENV ?? 'test' },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
    // Its own process group, so stop() ends whatever the server started too.
    detached: true,
  })
  let out = ''
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder()
    const reader = stream.getReader()
    for (let r = await reader.read(); !r.done; r = await reader.read())
      out += decoder.decode(r.value, { stream: true })
  }
  void drain(proc.stdout)
  void drain(proc.stderr)
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 60_000
  while (true) {
    if (proc.exitCode !== null) throw new Error(`server exited with ${proc.exitCode}:\n${out}`)
    try {
      if ((await fetch(`${url}/api/health`)).ok) break
    } catch {}
    if (Date.now() > deadline) {
      killGroup(proc, 'SIGKILL')
      throw new Error(`server did not answer /api/health within 60 s:\n${out}`)
    }
    await Bun.sleep(100)
  }
  return {
    url,
    port,
    env,
    proc,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      killGroup(proc, signal)
      return proc.exited
    },
  }
}
