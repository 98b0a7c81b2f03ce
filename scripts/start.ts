// `bun run start`: prepare a fresh clone (dependencies, UI, agent binaries), then run the
// server on the embedded database unless DATABASE_URL says otherwise.
import { prepare, ROOT } from './prepare.ts'

/**
 * Bun lets one process keep only 256 outgoing fetches in flight by default; every streaming
 * LLM answer the proxy relays holds one, so the server gets a higher ceiling.
 */
const MAX_HTTP_REQUESTS = '8192'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: bun run start

Installs dependencies if missing, builds the web UI and the agent binaries if they
are not built yet, applies database migrations and serves on PORT (default 5000).
Without DATABASE_URL the embedded database in DATA_DIR (default ./data) is used.`)
  process.exit(0)
}

await prepare({ ui: true, agent: true })
const server = Bun.spawn([process.execPath, 'server/main.ts'], {
  cwd: ROOT,
  env: {
    ...process.env,
    BUN_CONFIG_MAX_HTTP_REQUESTS: process.env.BUN_CONFIG_MAX_HTTP_REQUESTS ?? MAX_HTTP_REQUESTS,
  },
  stdio: ['inherit', 'inherit', 'inherit'],
})
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => server.kill(signal))
process.exit(await server.exited)
