// `bun run test`: installs dependencies when missing, then runs the whole suite with `bun test`
// (extra arguments pass through, e.g. `bun run test server/auth`). Set DATABASE_URL to run it
// against a real Postgres server instead of the embedded database.
import { prepare, ROOT } from './prepare.ts'
import { runSuite } from './reaper.ts'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: bun run test [bun test arguments...]

Installs dependencies if missing and runs every test (bun test). The tests build the
pieces they need (agent binary, UI) themselves when those are missing.
DATABASE_URL=postgres://... runs them against a real Postgres server: each test gets
a fresh database created there and dropped afterwards.
When the tests end, any process they started that is still running fails the run.`)
  process.exit(0)
}

/** Per test and hook; end-to-end tests start servers, agents and CLIs. bunfig's [test] timeout does not reach every file. */
const TEST_TIMEOUT_MS = 60_000

await prepare({ ui: false, agent: false })
await runSuite([process.execPath, 'test', `--timeout=${TEST_TIMEOUT_MS}`, ...process.argv.slice(2)], ROOT)
