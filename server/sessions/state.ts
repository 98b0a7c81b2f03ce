// The session state machine: starting -> active <-> paused -> stopped, with error reachable
// from any live state, and stopped -> starting again when a person continues the session (a new
// CLI process resuming its conversation). Impossible moves are refused with 409 and a sentence saying why.
// The states themselves are the schema's (db/schema/session-status.ts); only
// sessions/lifecycle.ts writes them.
import { LIVE_SESSION_STATUSES, type SessionStatus } from '../db/schema/index.ts'
import { conflict } from '../errors.ts'

export type SessionState = SessionStatus

export const SESSION_ACTIONS = [
  'chat',
  'stop',
  'pause',
  'resume',
  'abort',
  'permission',
  'started',
  'exited',
  'failed',
  'continue',
] as const
export type SessionAction = (typeof SESSION_ACTIONS)[number]

const LIVE: ReadonlySet<SessionState> = new Set(LIVE_SESSION_STATUSES)

/** The state after `action`, or undefined when the move is impossible. */
export function nextState(from: SessionState, action: SessionAction): SessionState | undefined {
  switch (action) {
    case 'chat':
    case 'abort':
    case 'permission':
      return from === 'starting' || from === 'active' ? from : undefined
    case 'pause':
      return from === 'active' ? 'paused' : undefined
    case 'resume':
      return from === 'paused' ? 'active' : undefined
    case 'stop':
      return LIVE.has(from) ? 'stopped' : undefined
    case 'exited':
      // A starting session has no process of its own yet: an exit reported now is the previous
      // process's (a continued session's, stopped a moment before), not the new one's.
      return from === 'active' || from === 'paused' ? 'stopped' : undefined
    case 'started':
      return from === 'starting' ? 'active' : LIVE.has(from) ? from : undefined
    case 'failed':
      return LIVE.has(from) ? 'error' : undefined
    case 'continue':
      return from === 'stopped' ? 'starting' : undefined
  }
}

export function isLive(state: SessionState): boolean {
  return LIVE.has(state)
}

const WHY: Record<SessionAction, string> = {
  chat: 'send a message to',
  stop: 'stop',
  pause: 'pause',
  resume: 'resume',
  abort: 'abort the turn of',
  permission: 'answer a permission request of',
  started: 'start',
  exited: 'end',
  failed: 'fail',
  continue: 'continue',
}

/** nextState, or a 409 naming the state the session is in. */
export function transition(from: SessionState, action: SessionAction): SessionState {
  const to = nextState(from, action)
  if (to === undefined) {
    const hint =
      from === 'paused' && action === 'chat'
        ? '; resume it first'
        : action === 'continue' && LIVE.has(from)
          ? '; it is still running, send it a message instead'
          : ''
    throw conflict(`Cannot ${WHY[action]} a session that is ${from}${hint}`)
  }
  return to
}
