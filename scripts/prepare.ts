// Gets a fresh clone ready to run: installs dependencies when missing and builds the UI and
// the agent binaries when they are not built yet, printing one progress line per step.
// Uses only Bun and node built-ins: it runs before `bun install` has.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

export const ROOT = resolve(import.meta.dir, '..')
const AGENT_FILES = [
  'open-ace-agent-linux-x64',
  'open-ace-agent-linux-arm64',
  'open-ace-agent-darwin-x64',
  'open-ace-agent-darwin-arm64',
  'open-ace-agent-windows-x64.exe',
  'SHA256SUMS',
]

interface Step {
  label: string
  needed(): boolean
  cmd: string[]
}

function mtime(path: string): number {
  return existsSync(path) ? statSync(path).mtimeMs : 0
}

/** The UI's sources: a build older than any of them would serve yesterday's UI (and its CSP). */
const UI_SOURCES = ['ui-svelte/src', 'ui-svelte/static', 'ui-svelte/vite.config.ts', 'ui-svelte/package.json']

/** Whether ui-svelte/build is missing or older than a source file it is built from. */
export function uiBuildIsStale(): boolean {
  const built = mtime(join(ROOT, 'ui-svelte/build/index.html'))
  if (!built) return true
  for (const source of UI_SOURCES) {
    const path = join(ROOT, source)
    if (!existsSync(path)) continue
    const files = statSync(path).isDirectory()
      ? readdirSync(path, { recursive: true, encoding: 'utf8' }).map((f) => join(path, f))
      : [path]
    if (files.some((file) => mtime(file) > built)) return true
  }
  return false
}

function packageScripts(): Record<string, string> {
  return (require(join(ROOT, 'package.json')) as { scripts: Record<string, string> }).scripts
}

export function prepareSteps(what: { ui: boolean; agent: boolean }): Step[] {
  const scripts = packageScripts()
  const steps: Step[] = [
    {
      label: 'Installing dependencies',
      needed: () =>
        !existsSync(join(ROOT, 'node_modules/elysia')) ||
        mtime(join(ROOT, 'bun.lock')) > mtime(join(ROOT, 'node_modules/.bun')),
      cmd: [process.execPath, 'install', '--frozen-lockfile'],
    },
  ]
  if (what.ui && scripts['build:ui']) {
    steps.push({
      label: 'Building the web UI',
      needed: uiBuildIsStale,
      cmd: [process.execPath, 'run', 'build:ui'],
    })
  }
  if (what.agent && scripts['build:agent']) {
    steps.push({
      label: 'Building the agent binaries (five targets, about a minute)',
      needed: () => AGENT_FILES.some((f) => !existsSync(join(ROOT, 'dist/agent', f))),
      cmd: [process.execPath, 'run', 'build:agent'],
    })
  }
  return steps
}

export async function prepare(what: { ui: boolean; agent: boolean }): Promise<void> {
  const steps = prepareSteps(what)
  for (const [i, step] of steps.entries()) {
    const tag = `[${i + 1}/${steps.length}]`
    if (!step.needed()) {
      console.log(`${tag} ${step.label}: up to date`)
      continue
    }
    console.log(`${tag} ${step.label}...`)
    const started = performance.now()
    const proc = Bun.spawn(step.cmd, { cwd: ROOT, stdin: 'ignore', stdout: 'inherit', stderr: 'inherit' })
    const code = await proc.exited
    if (code !== 0) {
      console.error(`${tag} ${step.label} failed (exit ${code}).`)
      process.exit(code || 1)
    }
    console.log(`${tag} ${step.label}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  }
}
