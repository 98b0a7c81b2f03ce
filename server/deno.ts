// The server's Deno entry: the same app served through app.fetch by Deno.serve. On Deno the
// agent channel degrades to HTTP long-poll (Bun's WebSocket server is not used here).
import { ConfigError, loadConfig } from './config.ts'
import { createLogger } from './log.ts'
import { prepareServer } from './start.ts'

declare const Deno: {
  serve(
    options: { hostname: string; port: number; onListen?: (addr: { port: number }) => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): { shutdown(): Promise<void> }
  addSignalListener(signal: string, fn: () => void): void
  exit(code: number): never
  env: { toObject(): Record<string, string> }
}

let config: ReturnType<typeof loadConfig>
try {
  config = loadConfig(Deno.env.toObject())
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`Configuration error: ${error.message}`)
    Deno.exit(1)
  }
  throw error
}
const log = createLogger(config.logLevel)
const server = await prepareServer(config, { log })
const http = Deno.serve(
  {
    hostname: config.host,
    port: config.port,
    onListen: ({ port }) => log.info('listening', { runtime: 'deno', port, database: server.database.kind }),
  },
  (request) => server.app.fetch(request),
)

async function shutdown() {
  await server.close(() => http.shutdown())
  Deno.exit(0)
}
Deno.addSignalListener('SIGINT', () => void shutdown())
Deno.addSignalListener('SIGTERM', () => void shutdown())
