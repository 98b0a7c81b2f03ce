// `bun run test:chaos`: the full fault suite. Its scenarios live in `test/chaos/*.chaos.ts`, a name
// `bun test` never picks up by itself (it collects only *.test.ts / *.spec.ts), so the normal
// `bun run test` runs just the fast `test/chaos/*.test.ts` subset. Given as explicit `./` paths,
// bun test runs them. Extra arguments pass through (e.g. `-t "network"`).

import { join } from 'node:path'
import { Glob } from 'bun'
import { runSuite } from '../../scripts/reaper.ts'

/** Per test: some scenarios cut the network for 30 s and restart servers and Postgres. */
const CHAOS_TEST_TIMEOUT_MS = 120_000
const ROOT = join(import.meta.dir, '../..')

/** Scenarios that restart a real Postgres server: they run in the DATABASE_URL run only. */
const POSTGRES_ONLY = new Set(['test/chaos/postgres.chaos.ts'])

const all = [...new Glob('test/chaos/*.chaos.ts').scanSync({ cwd: ROOT })].sort()
const files = all.filter((f) => process.env.DATABASE_URL || !POSTGRES_ONLY.has(f)).map((f) => `./${f}`)
if (files.length === 0) throw new Error('no test/chaos/*.chaos.ts files found')
for (const f of all.filter((f) => !process.env.DATABASE_URL && POSTGRES_ONLY.has(f))) {
  console.log(`${f}: runs against a real Postgres server only (set DATABASE_URL); not part of this run`)
}
await runSuite(
  [process.execPath, 'test', `--timeout=${CHAOS_TEST_TIMEOUT_MS}`, ...files, ...process.argv.slice(2)],
  ROOT,
)
