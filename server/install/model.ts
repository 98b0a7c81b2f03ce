// What the install endpoints may serve: the four scripts in install/ and an allow-list of agent
// build outputs. Anything else is a 404, so a crafted name can never reach another file on disk.
import { createSelectSchema } from 'drizzle-typebox'
import { t } from 'elysia'
import { remoteMachines } from '../db/schema/index.ts'
import { NullableIsoTime } from '../http/schema.ts'

export const INSTALL_SCRIPTS = {
  'install.sh': 'text/x-shellscript; charset=utf-8',
  'uninstall.sh': 'text/x-shellscript; charset=utf-8',
  // Plain text: PowerShell 5.1's Invoke-WebRequest only decodes text/* as a string, which the
  // seed's `Invoke-WebRequest ... | Invoke-Expression` one-liner needs.
  'install.ps1': 'text/plain; charset=utf-8',
  'uninstall.ps1': 'text/plain; charset=utf-8',
} as const

export type InstallScript = keyof typeof INSTALL_SCRIPTS

/** `bun run build:agent` targets, as `<os>-<arch>`; Windows binaries carry `.exe`. */
export const AGENT_TARGETS = [
  'linux-x64',
  'linux-arm64',
  'darwin-x64',
  'darwin-arm64',
  'windows-x64',
] as const

export const CHECKSUMS_FILE = 'SHA256SUMS'

export function binaryName(target: (typeof AGENT_TARGETS)[number]): string {
  return `open-ace-agent-${target}${target.startsWith('windows-') ? '.exe' : ''}`
}

export const AGENT_FILES: ReadonlySet<string> = new Set([...AGENT_TARGETS.map(binaryName), CHECKSUMS_FILE])

export const AgentFileParams = t.Object({ name: t.String({ minLength: 1, maxLength: 64 }) })

const machine = createSelectSchema(remoteMachines).properties

/** GET /api/remote/agent/status (agent-self.ts agentSelfStatus): this machine as the server sees it. */
export const AgentSelfStatus = t.Object({
  machine_id: machine.machineId,
  machine_name: machine.name,
  status: machine.status,
  connected: machine.connected,
  last_heartbeat: NullableIsoTime,
})
