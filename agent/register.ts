// One-time registration: trade the admin's registration token for this machine's agent token,
// then rewrite config.json with the agent token (0600) and without the registration token.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { AGENT_REGISTER_PATH, type Isolation } from '../protocol/index.ts'
import { updateConfigFile } from './config.ts'
import { machineCapabilities } from './system-info.ts'
import { AGENT_VERSION } from './version.ts'

const REGISTER_TIMEOUT_MS = 30_000

export interface RegisterInput {
  serverUrl: string
  registrationToken: string
  dir: string
  machineId: string
  machineName: string
  systemInfo: Record<string, unknown>
  maxSessions: number
  /** The token this directory already holds: proves the machine is ours when re-registering. */
  currentAgentToken?: string
  isolation: Isolation
}

export class RegistrationError extends Error {
  override name = 'RegistrationError'
}

export async function registerMachine(input: RegisterInput): Promise<{ machineId: string }> {
  const info = input.systemInfo
  const body = {
    registration_token: input.registrationToken,
    machine_id: input.machineId,
    machine_name: input.machineName,
    hostname: info.hostname,
    os_type: info.os_type,
    os_version: info.os_version,
    capabilities: machineCapabilities(info, { maxSessions: input.maxSessions, isolation: input.isolation }),
    agent_version: AGENT_VERSION,
  }
  let res: Response
  try {
    res = await fetch(`${input.serverUrl.replace(/\/+$/, '')}${AGENT_REGISTER_PATH}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(input.currentAgentToken ? { authorization: `Bearer ${input.currentAgentToken}` } : {}),
      },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REGISTER_TIMEOUT_MS),
    })
  } catch (cause) {
    throw new RegistrationError(`Cannot reach ${input.serverUrl}: ${(cause as Error).message}`)
  }
  const text = await res.text()
  let parsed: {
    machine_id?: string
    agent_token?: string
    agent_token_version?: number
    error?: { message?: string }
  } = {}
  try {
    parsed = JSON.parse(text)
  } catch {
    // Reported below with the status code.
  }
  if (!res.ok || typeof parsed.agent_token !== 'string') {
    const why = parsed.error?.message ?? `HTTP ${res.status}`
    throw new RegistrationError(`Registration refused by ${input.serverUrl}: ${why}`)
  }
  const machineId = parsed.machine_id ?? input.machineId
  updateConfigFile(input.dir, {
    server_url: input.serverUrl,
    machine_id: machineId,
    machine_name: input.machineName,
    agent_token: parsed.agent_token,
    agent_token_version: parsed.agent_token_version ?? 0,
    registration_token: undefined,
  })
  writeFileSync(join(input.dir, 'machine_id'), `${machineId}\n`)
  return { machineId }
}
