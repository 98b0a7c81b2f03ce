// The session states, once: the column's enum, the state machine (server/sessions/state.ts)
// and the UI (through the typed client's `status`) all use these. No imports, so the UI can
// take the values too.

/** A session in one of these states takes messages and controls, and its CLI may still run. */
export const LIVE_SESSION_STATUSES = ['starting', 'active', 'paused'] as const
/** A session in one of these states is over: no more commands, no more output. */
export const ENDED_SESSION_STATUSES = ['stopped', 'error'] as const
/** starting -> active <-> paused -> stopped, error from any live state. */
export const SESSION_STATUSES = [...LIVE_SESSION_STATUSES, ...ENDED_SESSION_STATUSES] as const
export type SessionStatus = (typeof SESSION_STATUSES)[number]
export type LiveSessionStatus = (typeof LIVE_SESSION_STATUSES)[number]

/** Shown instead of a live state while the session's machine is offline; never stored. */
export const DISCONNECTED = 'disconnected'
/** What the sessions API shows as a session's `status`. */
export type DisplayedSessionStatus = SessionStatus | typeof DISCONNECTED

const LIVE: ReadonlySet<string> = new Set<string>([...LIVE_SESSION_STATUSES, DISCONNECTED])

/** Whether a stored or displayed status is live (a disconnected session is live, its machine is not). */
export function isLiveStatus(status: string): boolean {
  return LIVE.has(status)
}
