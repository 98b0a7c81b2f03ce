// The command line, run from source: help on every command, usage errors, and start-up errors
// that name the bad setting and exit 78 (so a service manager does not restart in a loop).
import { describe, expect, test } from 'bun:test'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const MAIN = join(import.meta.dir, 'main.ts')

function cli(args: string[], env: Record<string, string> = {}) {
  const out = Bun.spawnSync([process.execPath, MAIN, ...args], {
    env: { PATH: process.env.PATH!, HOME: tmpdir(), ...env },
  })
  return { code: out.exitCode, stdout: out.stdout.toString(), stderr: out.stderr.toString() }
}

describe('open-ace-agent command line', () => {
  test('--help on every command', () => {
    expect(cli(['--help']).stdout).toContain('Commands:')
    for (const command of ['run', 'register', 'status', 'version']) {
      const r = cli([command, '--help'])
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`Usage: open-ace-agent ${command}`)
    }
    expect(cli(['version']).stdout.trim()).toBe('dev')
  })

  test('usage errors exit 2 and say what was wrong', () => {
    expect(cli(['launch'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining("unknown command 'launch'"),
    })
    expect(cli(['status', '--token', 'x'])).toMatchObject({
      code: 2,
      stderr: expect.stringContaining('--token'),
    })
  })

  test('bad configuration stops start-up with exit 78, naming the setting', () => {
    const dir = mkdtempSync(join(tmpdir(), 'oa-cli-'))
    const bad = cli(['run', '--dir', dir], { OPENACE_RECONNECT_MAX_DELAY: 'soon' })
    expect(bad.code).toBe(78)
    expect(bad.stderr).toContain('OPENACE_RECONNECT_MAX_DELAY')
    expect(cli(['run', '--dir', dir]).stderr).toContain('server_url is not set')
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({ server_url: 'http://127.0.0.1:9', log_level: 'chatty' }),
    )
    expect(cli(['status', '--dir', dir]).stderr).toContain('"log_level"')
    expect(cli(['register', '--dir', dir, '--server', 'http://127.0.0.1:9'])).toMatchObject({
      code: 78,
      stderr: expect.stringContaining('--token'),
    })
  })
})
