// The session state machine: starting -> active <-> paused -> stopped, with error reachable
// from any live state. Impossible moves are refused with 409 and a sentence saying why.
import { conflict } from '../errors.ts'

export const SESSION_STATES = ['starting', 'active', 'paused', 'stopped', 'error'] as const
export type SessionState = (typeof SESSION_STATES)[number]
/** Shown instead of a live state while the session's machine is offline; not stored. */
export const DISCONNECTED = 'disconnected'

export const SESSION_ACTIONS = [
  'chat',
  'stop',
  'pause',
  'resume',
  'abort',
  'permission',
  'started',
  'failed',
] as const
export type SessionAction = (typeof SESSION_ACTIONS)[number]

const LIVE: ReadonlySet<SessionState> = new Set(['starting', 'active', 'paused'])

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
    case 'started':
      return from === 'starting' ? 'active' : LIVE.has(from) ? from : undefined
    case 'failed':
      return LIVE.has(from) ? 'error' : undefined
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
  failed: 'fail',
}

/** nextState, or a 409 naming the state the session is in. */
export function transition(from: SessionState, action: SessionAction): SessionState {
  const to = nextState(from, action)
  if (to === undefined) {
    const hint = from === 'paused' && action === 'chat' ? '; resume it first' : ''
    throw conflict(`Cannot ${WHY[action]} a session that is ${from}${hint}`)
  }
  return to
}
