// The real process spawner: stdin is our pipe, lines come back split, and a signal reaches
// every process the CLI started (its own process group), not just the CLI.
import { describe, expect, test } from 'bun:test'
import { readFileSync } from 'node:fs'
import { waitUntil } from '../test/support/wait-until.ts'
import { readLines, spawnProcess } from './spawn.ts'

/** Running, not a zombie (orphans are reparented to an init that may never reap them). */
const alive = (pid: number) => {
  try {
    return !/^\d+ \(.*\) [ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

describe('spawnProcess', () => {
  test('stdin lines in, stdout lines out', async () => {
    const child = spawnProcess(['sh', '-c', 'while read l; do echo "got $l"; done'], {
      cwd: '/tmp',
      env: { PATH: process.env.PATH! },
    })
    child.writeLine('one')
    child.writeLine('two')
    child.closeStdin()
    const lines: string[] = []
    for await (const l of child.stdoutLines) lines.push(l)
    expect(lines).toEqual(['got one', 'got two'])
    expect(await child.exited).toEqual({ code: 0, signal: null })
  })

  test('SIGTERM to a session ends the CLI and the children it started', async () => {
    const child = spawnProcess(['sh', '-c', 'sleep 60 & echo $!; wait'], {
      cwd: '/tmp',
      env: { PATH: process.env.PATH! },
    })
    const grandchild = Number((await child.stdoutLines[Symbol.asyncIterator]().next()).value)
    expect(alive(grandchild)).toBe(true)
    child.signal('SIGTERM')
    expect((await child.exited).signal).toBe('SIGTERM')
    await waitUntil(() => !alive(grandchild), { what: 'the grandchild gone' })
  })

  test('a missing executable fails at spawn', () => {
    expect(() => spawnProcess(['no-such-cli-xyz'], { cwd: '/tmp', env: { PATH: '/usr/bin' } })).toThrow()
  })

  test('overlong lines are cut to the record limit', async () => {
    const big = 'x'.repeat(300 * 1024)
    const stream = new Response(`${big}\nshort\n`).body!
    const out: string[] = []
    for await (const l of readLines(stream)) out.push(l)
    expect(out.map((l) => l.length)).toEqual([256 * 1024, 300 * 1024 - 256 * 1024, 5])
  })
})
