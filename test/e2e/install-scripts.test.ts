// The install scripts as files: shellcheck clean, the bash and PowerShell twins kept parallel
// (same parameters, environment variables, endpoints, steps and CLI packages; PowerShell cannot
// run here), and install.sh/uninstall.sh refusing bad input before touching anything.
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO_ROOT } from '../support/process.ts'

const read = (name: string) => readFileSync(join(REPO_ROOT, 'install', name), 'utf8')
const SCRIPTS = ['install.sh', 'uninstall.sh', 'install.ps1', 'uninstall.ps1']

/** `--install-cli` -> `InstallCli`: the PowerShell spelling of a bash flag. */
const pascal = (flag: string) =>
  flag
    .replace(/^--/, '')
    .split('-')
    .map((w) => w[0]!.toUpperCase() + w.slice(1))
    .join('')

/** `$Script:InstallCli` -> `$INSTALL_CLI`, so step titles compare across the two languages. */
const bashVars = (text: string) =>
  text.replace(
    /\$(?:Script:|\{Script:)?([A-Z][A-Za-z]*)\}?/g,
    (_, name: string) => `$${name.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase()}`,
  )

/** Endpoints the scripts call (not the `.../install.sh` of the usage comments). */
const ENDPOINT = /(\/api\/remote\/agent\/[a-z]+)(?![.\w])/g
const all = (text: string, re: RegExp) => [...new Set([...text.matchAll(re)].map((m) => m[1] ?? m[0]))].sort()
const bashFlags = (sh: string) =>
  all(sh.slice(sh.indexOf('usage()'), sh.indexOf('\nEOF')), /^ {2}(--[a-z-]+)/gm)
const psParams = (ps: string) =>
  all(ps.slice(ps.indexOf('param('), ps.indexOf('\n)') + 1), /\$([A-Za-z]+)\s*(?:=|,|\n)/g)
const bashSteps = (sh: string) => all(sh, /^ {2}step (\d "[^"]*")/gm)
const psSteps = (ps: string) =>
  all(ps, /^ {2}Write-Step (\d ['"][^'"]*['"])/gm).map((s) => bashVars(s.replace(/'/g, '"')))

async function run(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn(['bash', ...args], {
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: env.HOME ?? tmpdir(), ...env },
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  return { code: await proc.exited, stdout, stderr }
}

describe('script quality', () => {
  test('shellcheck finds nothing in install.sh and uninstall.sh', async () => {
    const shellcheck = Bun.which('shellcheck')
    if (!shellcheck) throw new Error('shellcheck is not installed: apt-get install -y shellcheck')
    const proc = Bun.spawn([shellcheck, '-s', 'bash', 'install/install.sh', 'install/uninstall.sh'], {
      cwd: REPO_ROOT,
      stdout: 'pipe',
    })
    const report = await new Response(proc.stdout).text()
    expect(report).toBe('')
    expect(await proc.exited).toBe(0)
  })

  test.each(SCRIPTS)('%s is plain ASCII (PowerShell 5.1 decodes without a BOM)', (name) => {
    const unexpected = [...read(name)].filter((c) => c > '~' || (c < ' ' && !'\t\n\r'.includes(c)))
    expect(unexpected).toEqual([])
  })
})

describe('install.ps1 mirrors install.sh', () => {
  const sh = read('install.sh')
  const ps = read('install.ps1')

  test('the same parameters', () => {
    expect(bashFlags(sh)).toEqual([
      '--dir',
      '--help',
      '--install-cli',
      '--name',
      '--no-service',
      '--server',
      '--token',
    ])
    expect(psParams(ps)).toEqual(bashFlags(sh).map(pascal).sort())
  })

  test('the same environment variables (the piped PowerShell form cannot take arguments)', () => {
    const vars = all(sh, /\b(OPENACE_[A-Z_]+)\b/g)
    expect(vars).toContain('OPENACE_SERVER_URL')
    expect(vars).toContain('OPENACE_REGISTRATION_TOKEN')
    expect(all(ps, /\b(OPENACE_[A-Z_]+)\b/g)).toEqual(vars)
  })

  test('the same endpoints and checksum file', () => {
    const endpoints = all(sh, ENDPOINT)
    expect(endpoints).toEqual(['/api/remote/agent/files', '/api/remote/agent/status'])
    expect(all(ps, ENDPOINT)).toEqual(endpoints)
    for (const text of [sh, ps]) expect(text).toContain('SHA256SUMS')
  })

  test('the same eight steps with the same titles', () => {
    expect(bashSteps(sh)).toHaveLength(8)
    expect(psSteps(ps)).toEqual(bashSteps(sh))
  })

  test('the same CLI packages and agent subcommands', () => {
    const packages = all(sh, /(@?[a-z-]+(?:\/[a-z-]+)?@latest)/g)
    expect(packages).toEqual([
      '@anthropic-ai/claude-code@latest',
      '@qwen-code/qwen-code@latest',
      'openclaw@latest',
    ])
    expect(all(ps, /(@?[a-z-]+(?:\/[a-z-]+)?@latest)/g)).toEqual(packages)
    for (const text of [sh, ps]) {
      expect(text).toMatch(/register --dir .* --server .* --token .* --name /)
      expect(text).toMatch(/run --dir /)
    }
  })
})

describe('uninstall.ps1 mirrors uninstall.sh', () => {
  const sh = read('uninstall.sh')
  const ps = read('uninstall.ps1')

  test('the same parameters, steps and deregistration endpoint', () => {
    expect(bashFlags(sh)).toEqual(['--dir', '--help', '--yes'])
    expect(psParams(ps)).toEqual(bashFlags(sh).map(pascal).sort())
    expect(psSteps(ps)).toEqual(bashSteps(sh))
    expect(all(sh, ENDPOINT)).toEqual(['/api/remote/agent/deregister'])
    expect(all(ps, ENDPOINT)).toEqual(['/api/remote/agent/deregister'])
  })
})

describe('install.sh refuses bad input before doing anything', () => {
  const script = join(REPO_ROOT, 'install/install.sh')

  test('--help prints the usage and succeeds', async () => {
    const res = await run([script, '--help'])
    expect(res.code).toBe(0)
    expect(res.stdout).toContain('Usage: install.sh --server URL --token TOKEN')
  })

  test.each([
    [[], '--server is required'],
    [['--server', 'ace.example.com'], '--server must start with http:// or https://'],
    [['--server', 'http://127.0.0.1:9'], '--token is required'],
    [['--server', 'http://x', '--token', 't', '--install-cli', 'vim'], '--install-cli must be one of'],
    [['--server', 'http://x', '--token', 't', '--bogus'], 'unknown option: --bogus'],
    [['--server'], '--server needs a value'],
  ])('%p fails with "%s"', async (args, message) => {
    const res = await run([script, ...args])
    expect(res.code).toBe(1)
    expect(res.stderr).toContain(message)
    expect(res.stdout).not.toContain('[1/8]')
  })

  test('settings come from the environment too', async () => {
    const res = await run([script], {
      OPENACE_SERVER_URL: 'http://127.0.0.1:9',
      OPENACE_REGISTRATION_TOKEN: 't',
      OPENACE_INSTALL_CLI: 'vim',
    })
    expect(res.stderr).toContain('--install-cli must be one of')
  })
})

describe('uninstall.sh is careful', () => {
  test('it refuses a directory that holds no agent', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-not-agent-'))
    writeFileSync(join(dir, 'precious.txt'), 'keep me')
    try {
      const res = await run([join(REPO_ROOT, 'install/uninstall.sh'), '--dir', dir, '--yes'])
      expect(res.code).toBe(1)
      expect(res.stderr).toContain('does not contain an Open ACE agent')
      expect(readFileSync(join(dir, 'precious.txt'), 'utf8')).toBe('keep me')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  test('without --yes and without a terminal it asks for --yes and removes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-agent-'))
    writeFileSync(join(dir, 'config.json'), '{}\n')
    try {
      const res = await run(['-c', `setsid bash ${join(REPO_ROOT, 'install/uninstall.sh')} --dir ${dir}`])
      expect(res.code).toBe(1)
      expect(res.stderr).toContain('re-run with --yes')
      expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{}\n')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
