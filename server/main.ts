// The server's Bun entry: read settings, start listening, shut down cleanly on a signal.
import { ConfigError, loadConfig } from './config.ts'
import { createLogger } from './log.ts'
import { prepareServer } from './start.ts'

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`Usage: bun server/main.ts

Starts the Open ACE Remote Workspace server. Settings come from the environment;
see README.md ("Configuration") or .env.example for every variable.`)
  process.exit(0)
}

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(process.env)
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`)
    process.exit(1)
  }
  throw error
}
const log = createLogger(config.logLevel)
const server = await prepareServer(config, { log })
server.app.listen({ hostname: config.host, port: config.port, idleTimeout: 60 })
log.info('listening', {
  url: `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${server.app.server?.port}`,
  database: server.database.kind,
})

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  log.info('shutting down', { signal })
  await server.close(() => server.app.stop(true))
  log.info('stopped')
  process.exit(0)
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))
