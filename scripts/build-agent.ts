// Builds the agent into one self-contained binary per OS with `bun build --compile`, writes
// dist/agent/SHA256SUMS, and skips targets already built from the same sources and version
// (unless --force). Usage: bun scripts/build-agent.ts [--target NAME] [--force] [--version V]
// [--out-dir DIR] [--help]. --version and --out-dir let a test build a binary that reports
// another version (self-update) without touching dist/agent.
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const ROOT = resolve(import.meta.dir, '..')
export const AGENT_DIST_DIR = join(ROOT, 'dist/agent')
const ENTRY = join(ROOT, 'agent/main.ts')
/** Source folders whose contents go into the binary. */
const SOURCE_DIRS = ['agent', 'protocol']
const BUILD_INFO = '.build-info.json'

export const AGENT_TARGETS = {
  'linux-x64': 'open-ace-agent-linux-x64',
  'linux-arm64': 'open-ace-agent-linux-arm64',
  'darwin-x64': 'open-ace-agent-darwin-x64',
  'darwin-arm64': 'open-ace-agent-darwin-arm64',
  'windows-x64': 'open-ace-agent-windows-x64.exe',
} as const
export type AgentTarget = keyof typeof AGENT_TARGETS

const HELP = `Usage: bun scripts/build-agent.ts [--target NAME] [--force] [--version V] [--out-dir DIR]

Compiles agent/main.ts for each target into dist/agent/ and writes dist/agent/SHA256SUMS and
dist/agent/VERSION (the version the server tells agents apart by; agents reporting another
version are offered these binaries as a self-update).
Targets already built from the same sources and version are skipped.

Options:
  --target NAME   build only this target: ${Object.keys(AGENT_TARGETS).join(', ')}
  --force         rebuild even when up to date
  --version V     stamp this version instead of package.json's + git describe
                  (also OPENACE_AGENT_BUILD_VERSION)
  --out-dir DIR   write the binaries, SHA256SUMS and VERSION to DIR instead of dist/agent
  --help          show this help`

function git(args: string[]): string | undefined {
  const out = Bun.spawnSync(['git', ...args], { cwd: ROOT, stdout: 'pipe', stderr: 'ignore' })
  return out.exitCode === 0 ? out.stdout.toString().trim() || undefined : undefined
}

/** package.json version plus the git description (tag distance and short sha, -dirty). */
export function agentVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
  const described = git(['describe', '--tags', '--always', '--dirty'])
  return described ? `${pkg.version}+${described.replace(/^v/, '')}` : pkg.version
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name)
    if (e.isDirectory()) return e.name === 'fixtures' || e.name === 'test-support' ? [] : sourceFiles(path)
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : []
  })
}

/** Fingerprint of everything that decides the binary: sources, lockfile and version. */
function buildKey(version: string): string {
  const hash = createHash('sha256').update(version).update(Bun.version)
  const files = [...SOURCE_DIRS.flatMap((d) => sourceFiles(join(ROOT, d))), join(ROOT, 'bun.lock')].sort()
  for (const file of files) hash.update(relative(ROOT, file)).update(readFileSync(file))
  return hash.digest('hex')
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

type BuildInfo = Record<string, { key: string; sha256: string }>

function readInfo(outDir: string): BuildInfo {
  try {
    return JSON.parse(readFileSync(join(outDir, BUILD_INFO), 'utf8')) as BuildInfo
  } catch {
    return {}
  }
}

function upToDate(outDir: string, info: BuildInfo, target: AgentTarget, key: string): boolean {
  const path = join(outDir, AGENT_TARGETS[target])
  const entry = info[target]
  return entry?.key === key && existsSync(path) && sha256(path) === entry.sha256
}

async function compile(outDir: string, target: AgentTarget, version: string): Promise<void> {
  const outfile = join(outDir, AGENT_TARGETS[target])
  const proc = Bun.spawn(
    [
      process.execPath,
      'build',
      '--compile',
      '--minify',
      '--bytecode',
      '--format=esm',
      // The agent reads only its own config: never a .env or bunfig.toml from where it runs.
      '--no-compile-autoload-dotenv',
      '--no-compile-autoload-bunfig',
      `--target=bun-${target}`,
      '--define',
      `OPENACE_AGENT_VERSION=${JSON.stringify(version)}`,
      ENTRY,
      '--outfile',
      outfile,
    ],
    { cwd: ROOT, stdout: 'pipe', stderr: 'pipe' },
  )
  const [code, out, err] = await Promise.all([
    proc.exited,
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  if (code !== 0) throw new Error(`bun build for ${target} failed (exit ${code}):\n${out}${err}`)
}

/** The version the binaries in dist/agent were built as: the server reads it to tell which agents are behind. */
export const VERSION_FILE = 'VERSION'

function writeSums(outDir: string): void {
  const lines = Object.values(AGENT_TARGETS)
    .filter((name) => existsSync(join(outDir, name)))
    .map((name) => `${sha256(join(outDir, name))}  ${name}\n`)
  writeFileSync(join(outDir, 'SHA256SUMS'), lines.join(''))
}

/** Builds the chosen targets (all by default); returns the targets actually compiled. */
export async function buildAgent(
  options: {
    targets?: AgentTarget[]
    force?: boolean
    log?: (line: string) => void
    /** The version to stamp (default: agentVersion()). */
    version?: string
    /** Where to write (default: dist/agent). */
    outDir?: string
  } = {},
) {
  const log = options.log ?? ((line: string) => console.log(line))
  const targets = options.targets ?? (Object.keys(AGENT_TARGETS) as AgentTarget[])
  const outDir = options.outDir ?? AGENT_DIST_DIR
  mkdirSync(outDir, { recursive: true })
  const version = options.version ?? agentVersion()
  const key = buildKey(version)
  const info = readInfo(outDir)
  const built: AgentTarget[] = []
  for (const [i, target] of targets.entries()) {
    const step = `[${i + 1}/${targets.length}] ${target}`
    if (!options.force && upToDate(outDir, info, target, key)) {
      log(`${step}: up to date (${AGENT_TARGETS[target]})`)
      continue
    }
    const started = performance.now()
    log(`${step}: building ${AGENT_TARGETS[target]} ${version}...`)
    await compile(outDir, target, version)
    const path = join(outDir, AGENT_TARGETS[target])
    info[target] = { key, sha256: sha256(path) }
    writeFileSync(join(outDir, BUILD_INFO), `${JSON.stringify(info, null, 2)}\n`)
    const mb = (statSync(path).size / 1024 / 1024).toFixed(1)
    log(`${step}: done in ${((performance.now() - started) / 1000).toFixed(1)} s (${mb} MB)`)
    built.push(target)
  }
  writeSums(outDir)
  writeFileSync(join(outDir, VERSION_FILE), `${version}\n`)
  log(`SHA256SUMS written to ${relative(ROOT, join(outDir, 'SHA256SUMS'))}`)
  return { version, built }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      target: { type: 'string' },
      force: { type: 'boolean' },
      version: { type: 'string' },
      'out-dir': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) {
    console.log(HELP)
    process.exit(0)
  }
  if (values.target && !(values.target in AGENT_TARGETS)) {
    console.error(`Unknown target '${values.target}'.\n\n${HELP}`)
    process.exit(2)
  }
  const version = values.version ?? process.env.OPENACE_AGENT_BUILD_VERSION
  if (version !== undefined && !/^[0-9A-Za-z.+_-]{1,64}$/.test(version)) {
    console.error(`--version must be 1-64 letters, digits or . + _ - (got '${version}')`)
    process.exit(2)
  }
  try {
    await buildAgent({
      ...(values.target ? { targets: [values.target as AgentTarget] } : {}),
      force: values.force ?? false,
      ...(version ? { version } : {}),
      ...(values['out-dir'] ? { outDir: resolve(values['out-dir']) } : {}),
    })
  } catch (err) {
    console.error((err as Error).message)
    process.exit(1)
  }
}
