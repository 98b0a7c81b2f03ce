// open-ace-agent command line: run (default), register, status, version, --help on each.
// Start-up errors (bad config, refused registration) print one clear line and a non-zero exit.
import { parseArgs } from 'node:util'
// Commands are imported when chosen, so `version` and `--help` answer without loading the
// protocol checkers and the rest of the agent.
import { EXIT_CONFIG, EXIT_OK, EXIT_USAGE } from './exit-codes.ts'
import { AGENT_VERSION } from './version.ts'

const DIR_HELP =
  '  --dir DIR        agent directory (config.json, logs); default $OPENACE_AGENT_DIR or ~/.open-ace-agent'
const HELP: Record<string, string> = {
  main: `open-ace-agent ${AGENT_VERSION}: runs AI coding CLIs on this machine for an Open ACE server.

Usage: open-ace-agent [command] [options]

Commands:
  run         connect to the server and run sessions (default)
  register    register this machine with a registration token
  status      show configuration, connection and sessions
  version     print the version

Run 'open-ace-agent <command> --help' for a command's options.`,
  run: `Usage: open-ace-agent run [--dir DIR]

Connects to the server (WebSocket, else HTTP long-poll) and runs sessions until stopped.
Settings: environment (OPENACE_SERVER_URL, OPENACE_AGENT_TOKEN, OPENACE_MACHINE_ID,
OPENACE_HEARTBEAT_INTERVAL, OPENACE_RECONNECT_BASE_DELAY, OPENACE_RECONNECT_MAX_DELAY,
OPENACE_MAX_SESSIONS, OPENACE_LOG_LEVEL, OPENACE_AGENT_TRANSPORT, OPENACE_TERMINAL_IDLE_TIMEOUT,
OPENACE_HOSTNAME, OPENACE_UPDATE_ROLLBACK_TIMEOUT) > config.json > defaults.
When the server sends a self-update, the agent checks the new binary's SHA-256, replaces
itself (keeping <binary>.previous) and re-executes; if the new one is not online within
update_rollback_timeout seconds, the previous one is put back.

Options:
${DIR_HELP}`,
  register: `Usage: open-ace-agent register --server URL --token TOKEN [--name NAME] [--dir DIR]

Registers this machine and stores its agent token in config.json (mode 0600).
The server merges a re-installed host into its old entry by hostname (OPENACE_HOSTNAME
overrides the reported hostname, e.g. for several agents on one host).

Options:
  --server URL     Open ACE server address, e.g. http://ace.example.com:5000
  --token TOKEN    one-time registration token from the administrator
  --name NAME      display name of this machine (default: hostname)
${DIR_HELP}`,
  status: `Usage: open-ace-agent status [--dir DIR] [--json]

Shows the configuration (tokens hidden), whether the agent runs, its connection and sessions.

Options:
  --json           print JSON
${DIR_HELP}`,
  version: 'Usage: open-ace-agent version\n\nPrints the agent version.',
}

const OPTIONS = {
  dir: { type: 'string' },
  server: { type: 'string' },
  token: { type: 'string' },
  name: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean', short: 'v' },
} as const

const ALLOWED: Record<string, string[]> = {
  run: ['dir'],
  register: ['dir', 'server', 'token', 'name'],
  status: ['dir', 'json'],
  version: [],
}

async function main(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true })
  } catch (err) {
    console.error(`open-ace-agent: ${(err as Error).message}\n\n${HELP.main}`)
    return EXIT_USAGE
  }
  const { values, positionals } = parsed
  if (values.version && positionals.length === 0) {
    console.log(AGENT_VERSION)
    return EXIT_OK
  }
  const command = positionals[0] === 'help' ? undefined : (positionals[0] ?? 'run')
  if (command === undefined || (values.help && positionals.length === 0)) {
    console.log(HELP[positionals[1] ?? 'main'] ?? HELP.main)
    return 0
  }
  const allowed = ALLOWED[command]
  if (!allowed) {
    console.error(`open-ace-agent: unknown command '${command}'\n\n${HELP.main}`)
    return EXIT_USAGE
  }
  if (values.help) {
    console.log(HELP[command])
    return EXIT_OK
  }
  const extra = Object.keys(values).filter((k) => !allowed.includes(k))
  if (extra.length > 0 || positionals.length > 1) {
    const what = extra.length > 0 ? `option --${extra[0]}` : `argument '${positionals[1]}'`
    console.error(`open-ace-agent ${command}: unexpected ${what}\n\n${HELP[command]}`)
    return EXIT_USAGE
  }
  try {
    switch (command) {
      case 'version':
        console.log(AGENT_VERSION)
        return 0
      case 'register':
        return await (await import('./register-command.ts')).registerCommand(values)
      case 'status':
        return (await import('./status-command.ts')).statusCommand(values)
      default:
        return await (await import('./run-command.ts')).runCommand(values)
    }
  } catch (err) {
    if ((err as Error).name === 'ConfigError' || (err as Error).name === 'RegistrationError') {
      console.error(`open-ace-agent: ${(err as Error).message}`)
      return EXIT_CONFIG
    }
    throw err
  }
}

process.exitCode = await main(process.argv.slice(2))
