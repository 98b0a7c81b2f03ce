// Whether a machine gets agent.update now: the one decision, pure, so every trigger (the
// agent's hello, the periodic check of idle machines, an admin's "update now") decides alike.
// Automatic offers respect the auto-update switch, the window and an earlier failure of that
// version; an admin's request overrides those three. Live sessions hold every offer back
// unless the admin forced it.
import type { MachineUpdateState } from '../db/schema/index.ts'
import { inUpdateWindow } from '../machines/update-window.ts'
import { type AgentRelease, releaseBinary } from './release.ts'

/** The agent is working on an update: nothing new is sent meanwhile. */
export const UPDATE_IN_FLIGHT: ReadonlySet<MachineUpdateState> = new Set([
  'sent',
  'downloading',
  'waiting',
  'installing',
  'restarting',
])
export const UPDATE_FAILED: ReadonlySet<MachineUpdateState> = new Set(['failed', 'rolled_back'])

export interface UpdateMachineFacts {
  agentVersion: string
  capabilities: Record<string, unknown>
  status: 'online' | 'offline'
  connected: boolean
  updateState: MachineUpdateState | null
  updateVersion: string | null
  updateRequested: boolean
  updateForce: boolean
  updateWindow: string | null
  autoUpdate: boolean | null
}

export interface UpdateFacts {
  release: AgentRelease | null
  machine: UpdateMachineFacts
  liveSessions: number
  defaults: { auto: boolean; window: string | undefined }
  now: Date
}

/** Why a machine cannot be updated at all (answered up front to an admin's request). */
export type UpdateRefusal = 'not_built' | 'current' | 'unsupported' | 'no_binary'

export type UpdateDecision =
  | { send: { version: string; url: string; sha256: string; force: boolean } }
  | { wait: 'offline' | 'sessions' }
  | { skip: UpdateRefusal | 'in_flight' | 'auto_off' | 'failed_before' | 'outside_window' }

export function updateRefusal(
  release: AgentRelease | null,
  machine: UpdateMachineFacts,
): UpdateRefusal | null {
  if (!release) return 'not_built'
  if (machine.agentVersion === release.version) return 'current'
  const target = machine.capabilities.update_target
  if (typeof target !== 'string') return 'unsupported'
  if (!releaseBinary(release, target)) return 'no_binary'
  return null
}

export function decideUpdate(facts: UpdateFacts): UpdateDecision {
  const { release, machine } = facts
  const refusal = updateRefusal(release, machine)
  if (refusal || !release) return { skip: refusal ?? 'not_built' }
  const sameVersion = machine.updateVersion === release.version
  const inFlight = machine.updateState !== null && UPDATE_IN_FLIGHT.has(machine.updateState) && sameVersion
  // A forced request reaches an agent still waiting for its sessions: it goes on at once.
  const forcing = machine.updateRequested && machine.updateForce && machine.updateState === 'waiting'
  if (inFlight && !forcing) return { skip: 'in_flight' }
  if (!machine.updateRequested) {
    if (!(machine.autoUpdate ?? facts.defaults.auto)) return { skip: 'auto_off' }
    if (machine.updateState !== null && UPDATE_FAILED.has(machine.updateState) && sameVersion)
      return { skip: 'failed_before' }
    if (!inUpdateWindow(machine.updateWindow ?? facts.defaults.window, facts.now))
      return { skip: 'outside_window' }
  }
  if (machine.status !== 'online' || !machine.connected) return { wait: 'offline' }
  const force = machine.updateRequested && machine.updateForce
  if (facts.liveSessions > 0 && !force) return { wait: 'sessions' }
  const binary = releaseBinary(release, machine.capabilities.update_target as string)!
  return { send: { version: release.version, url: binary.path, sha256: binary.sha256, force } }
}
