// Time comes from ctx.now() (context/index.ts), so a test can move one instance's clock: no
// server module reads the wall clock for "now" itself. Durations paired with real timers use
// performance.now(); the logger stamps lines without a context.
import { describe, expect, test } from 'bun:test'
import { join, relative } from 'node:path'
import { Glob } from 'bun'

const SERVER = join(import.meta.dir, '..')
/** The clock itself, and the logger (it has no context). */
const ALLOWED = new Set(['context/index.ts', 'log.ts'])
const WALL_CLOCK = /\bDate\.now\(\)|\bnew Date\(\s*\)/

describe('the clock', () => {
  test('no server module reads the wall clock but through ctx.now()', async () => {
    const offenders: string[] = []
    for await (const rel of new Glob('**/*.ts').scan(SERVER)) {
      if (rel.endsWith('.test.ts') || ALLOWED.has(rel)) continue
      const text = await Bun.file(join(SERVER, rel)).text()
      // Shared test set-up beside the tests (it plays the agent, whose clock is its own).
      if (text.includes("from 'bun:test'")) continue
      const lines = text.split('\n')
      lines.forEach((line, i) => {
        if (WALL_CLOCK.test(line))
          offenders.push(`server/${relative(SERVER, join(SERVER, rel))}:${i + 1}: ${line.trim()}`)
      })
    }
    expect(offenders).toEqual([])
  })
})
