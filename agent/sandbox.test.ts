// The sandbox a session's CLI runs in, tried for real with bubblewrap where it works (CI
// installs it): what the command sees, and the argv on the other mechanisms.
import { describe, expect, test } from 'bun:test'
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { detectIsolation } from './isolation.ts'
import { type SandboxRequest, sandboxCommand, sandboxExecProfile } from './sandbox.ts'

function layout() {
  const root = mkdtempSync(join(tmpdir(), 'oa-sandbox-'))
  const agentDir = join(root, 'agent')
  const project = join(root, 'work', 'mine')
  const other = join(root, 'work', 'theirs')
  const home = join(agentDir, 'homes', 'u-1')
  for (const d of [project, other, home, join(agentDir, 'sessions', 's1', 'cli')])
    mkdirSync(d, { recursive: true })
  writeFileSync(join(agentDir, 'config.json'), '{"agent_token":"secret"}')
  writeFileSync(join(other, 'theirs.txt'), 'not yours')
  writeFileSync(join(project, 'mine.txt'), 'yours\n')
  const req = (argv: string[]): SandboxRequest => ({
    argv,
    cwd: project,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: root },
    home: { source: home, target: root },
    writable: [join(agentDir, 'sessions', 's1', 'cli')],
    hidden: [agentDir, join(root, 'work'), other],
  })
  return { root, agentDir, project, other, home, req }
}

const isolation = detectIsolation({ mode: 'auto', runAs: '' })
const run = (cmd: { argv: string[]; env: Record<string, string>; cwd: string }) => {
  const r = Bun.spawnSync(cmd.argv, { env: cmd.env, cwd: cmd.cwd })
  return { code: r.exitCode, out: r.stdout.toString(), err: r.stderr.toString() }
}

describe.if(process.platform === 'linux')('bubblewrap sandbox', () => {
  test('is found and works on this machine', () => {
    expect(isolation).toMatchObject({ level: 'sandbox', mechanism: 'bubblewrap' })
  })

  test('the project and home are writable; the agent dir and other projects are not there; own PIDs', () => {
    const l = layout()
    const script = [
      'cat mine.txt',
      'echo written > new.txt && cat new.txt',
      'echo x > "$HOME/.qwenrc" && echo home-ok',
      `ls -A ${l.agentDir} | tr '\\n' ' '; echo`,
      `test -e ${l.agentDir}/config.json && echo CONFIG-VISIBLE`,
      `test -e ${l.other}/theirs.txt && echo OTHER-VISIBLE`,
      'ls /proc | grep -c "^[0-9]"',
      '(echo ro > /etc/oa-sandbox-test) 2>/dev/null || echo etc-readonly',
    ].join('; ')
    const r = run(sandboxCommand(isolation, l.req(['/bin/sh', '-c', script])))
    expect(r.err).toBe('')
    const lines = r.out.trim().split('\n')
    expect(lines[0]).toBe('yours')
    expect(lines[1]).toBe('written')
    expect(lines[2]).toBe('home-ok')
    expect(lines[3]!.trim()).toBe('sessions')
    expect(r.out).not.toContain('CONFIG-VISIBLE')
    expect(r.out).not.toContain('OTHER-VISIBLE')
    expect(Number(lines[4])).toBeLessThanOrEqual(4)
    expect(lines[5]).toBe('etc-readonly')
    expect(Bun.file(join(l.project, 'new.txt')).size).toBeGreaterThan(0)
    expect(Bun.file(join(l.home, '.qwenrc')).size).toBeGreaterThan(0)
  })

  test('a PATH entry under a hidden home still runs, the rest of that home stays hidden', () => {
    const l = layout()
    const tools = join(l.root, '.npm-global', 'bin')
    mkdirSync(tools, { recursive: true })
    writeFileSync(join(l.root, '.npm-global', 'credentials'), 'secret')
    writeFileSync(join(tools, 'hello-cli'), '#!/bin/sh\necho hello from a home install\n', { mode: 0o755 })
    const req = l.req([join(tools, 'hello-cli')])
    req.env.PATH = `${tools}:${req.env.PATH}`
    expect(run(sandboxCommand(isolation, req)).out).toBe('hello from a home install\n')
    const peek = l.req(['/bin/sh', '-c', `cat ${join(l.root, '.npm-global', 'credentials')} || echo hidden`])
    peek.env.PATH = `${tools}:${peek.env.PATH}`
    expect(run(sandboxCommand(isolation, peek)).out).toContain('hidden')
  })
})

describe.if(process.platform === 'linux')('bubblewrap sandbox, packages', () => {
  test('a CLI from a hidden checkout node_modules (bun layout: symlinks into a store) still runs', () => {
    const l = layout()
    const modules = join(l.root, 'repo', 'node_modules')
    const real = join(modules, '.bun', 'tool@1', 'node_modules', 'tool')
    mkdirSync(real, { recursive: true })
    mkdirSync(join(modules, '.bin'))
    writeFileSync(join(real, 'package.json'), '{}')
    writeFileSync(join(real, 'cli.sh'), '#!/bin/sh\necho tool ran\n', { mode: 0o755 })
    symlinkSync(join('.bun', 'tool@1', 'node_modules', 'tool'), join(modules, 'tool'))
    symlinkSync(join('..', 'tool', 'cli.sh'), join(modules, '.bin', 'tool'))
    const req = l.req([join(modules, '.bin', 'tool')])
    req.env.PATH = `${join(modules, '.bin')}:${req.env.PATH}`
    req.hidden.push(join(l.root, 'repo'))
    expect(run(sandboxCommand(isolation, req)).out).toBe('tool ran\n')
  })
})

describe('other mechanisms', () => {
  test('none runs the command as it is, with the per-user home', () => {
    const l = layout()
    const cmd = sandboxCommand({ level: 'none', mechanism: '' }, l.req(['qwen', '-p']))
    expect(cmd.argv).toEqual(['qwen', '-p'])
    expect(cmd.env.HOME).toBe(l.home)
  })

  test('run_as goes through setpriv to the unprivileged user', () => {
    const l = layout()
    const runAs = { name: 'oa-cli', uid: 1234, gid: 1235, homesDir: '/home/oa-cli/.open-ace-homes' }
    const cmd = sandboxCommand({ level: 'separate-user', mechanism: 'run_as', runAs }, l.req(['qwen']))
    expect(cmd.argv).toEqual(['setpriv', '--reuid=1234', '--regid=1235', '--init-groups', '--', 'qwen'])
    expect(cmd.env).toMatchObject({ USER: 'oa-cli', LOGNAME: 'oa-cli', HOME: l.home })
  })

  test('the sandbox-exec profile denies the hidden paths and gives back the session own ones', () => {
    const l = layout()
    const profile = sandboxExecProfile(l.req(['qwen']))
    expect(profile).toStartWith('(version 1)\n(allow default)\n')
    expect(profile).toContain(`(deny file-read* file-write* (subpath "${l.agentDir}"))`)
    expect(profile).toContain(`(deny file-read* file-write* (subpath "${l.other}"))`)
    expect(profile.indexOf(`(allow file-read* file-write* (subpath "${l.project}"))`)).toBeGreaterThan(
      profile.lastIndexOf('(deny'),
    )
  })

  test('detection reports why a machine is not isolated', () => {
    expect(detectIsolation({ mode: 'none', runAs: '' })).toMatchObject({ level: 'none' })
    const noBwrap = detectIsolation({
      mode: 'auto',
      runAs: '',
      platform: 'linux',
      uid: 1000,
      which: () => null,
    })
    expect(noBwrap).toEqual({ level: 'none', mechanism: '', detail: 'bubblewrap (bwrap) is not installed' })
    const win = detectIsolation({ mode: 'auto', runAs: '', platform: 'win32', uid: -1 })
    expect(win.level).toBe('none')
    expect(win.detail).toContain('win32 has no sandbox')
    const rootNoRunAs = detectIsolation({
      mode: 'auto',
      runAs: '',
      platform: 'linux',
      uid: 0,
      which: () => null,
    })
    expect(rootNoRunAs.detail).toContain('the agent runs as root and run_as is not set')
  })

  test.if(process.getuid?.() === 0)('as root without bubblewrap, run_as gives separate-user', () => {
    const iso = detectIsolation({
      mode: 'auto',
      runAs: 'nobody',
      platform: 'linux',
      uid: 0,
      which: () => null,
    })
    expect(iso).toMatchObject({ level: 'separate-user', mechanism: 'run_as', runAs: { name: 'nobody' } })
    const missing = detectIsolation({
      mode: 'auto',
      runAs: 'no-such-user-x',
      platform: 'linux',
      uid: 0,
      which: () => null,
    })
    expect(missing.level).toBe('none')
    expect(missing.detail).toContain("run_as user 'no-such-user-x' does not exist")
  })
})
