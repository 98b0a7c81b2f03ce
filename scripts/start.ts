// `bun run start`: prepare a fresh clone (dependencies, UI, agent binaries), then run the
// server on the embedded database unless DATABASE_URL says otherwise.
import { prepare } from './prepare.ts'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: bun run start

Installs dependencies if missing, builds the web UI and the agent binaries if they
are not built yet, applies database migrations and serves on PORT (default 5000).
Without DATABASE_URL the embedded database in DATA_DIR (default ./data) is used.`)
  process.exit(0)
}

await prepare({ ui: true, agent: true })
await import('../server/main.ts')
