// Loaded before every test file (bunfig.toml): drops the Postgres databases the run created.
import { afterAll } from 'bun:test'
import { dropTestDatabases } from './database.ts'

afterAll(async () => {
  await dropTestDatabases()
})
