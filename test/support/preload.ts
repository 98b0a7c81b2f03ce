// Loaded before every test file (bunfig.toml): a generous default timeout for hooks that
// start servers and databases, and clean-up of the Postgres databases the run created.
import { afterAll, setDefaultTimeout } from 'bun:test'
import { dropTestDatabases } from './database.ts'

setDefaultTimeout(60_000)

afterAll(async () => {
  await dropTestDatabases()
})
