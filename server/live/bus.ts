// The live-change bus behind the admin views' streams (machines, sessions, usage): "this
// changed" notices published through Postgres NOTIFY, so a browser watching a list on any
// instance hears a change made on another. A notice names what changed and whose it is (ids,
// tenant), never its contents: each stream filters notices by what its reader may see, and the
// browser refetches through the list endpoint, which applies the list's own rules.
import type { AppContext } from '../context/index.ts'

export const LIVE_CHANNEL = 'oa_live_changes'
/** NOTIFY payloads hold at most 8000 bytes; id lists are split into chunks this long. */
const IDS_PER_NOTICE = 100

export const MACHINE_CHANGE_KINDS = [
  'registered',
  'hello',
  'presence',
  'heartbeat',
  'settings',
  'assignment',
  'token',
  'update',
  'deleted',
] as const
export type MachineChangeKind = (typeof MACHINE_CHANGE_KINDS)[number]

export const SESSION_CHANGE_KINDS = ['created', 'status', 'activity', 'permission', 'alert', 'title'] as const
export type SessionChangeKind = (typeof SESSION_CHANGE_KINDS)[number]

export interface MachineChange {
  topic: 'machines'
  kind: MachineChangeKind
  machine_ids: string[]
  /** registered: the registration token that made the machine (its public id, not the secret). */
  registration_id?: string
  /** assignment: whose access changed. */
  user_id?: number
}
export interface SessionChange {
  topic: 'sessions'
  kind: SessionChangeKind
  session_ids: string[]
}
export interface UsageChange {
  topic: 'usage'
  user_ids: number[]
  api_key_ids: number[]
}
export type LiveChange = MachineChange | SessionChange | UsageChange
export type LiveTopic = LiveChange['topic']

type Listener = (change: LiveChange) => void

/** This instance's live-change listeners behind one LISTEN (ctx.state.liveChanges). */
export interface LiveChangeRegistry {
  listeners: Set<Listener>
  ready: Promise<void>
}

export function createLiveChangeRegistry(ctx: AppContext): LiveChangeRegistry {
  const listeners = new Set<Listener>()
  const ready = ctx.database
    .listen(LIVE_CHANNEL, (payload) => {
      let change: LiveChange
      try {
        change = JSON.parse(payload) as LiveChange
      } catch (error) {
        ctx.log.warn('malformed live notice', { error })
        return
      }
      for (const fn of listeners) {
        try {
          fn(change)
        } catch (error) {
          ctx.log.warn('live listener failed', { error })
        }
      }
    })
    .then((unlisten) => ctx.onClose(unlisten))
  return { listeners, ready }
}

/** Calls `listener` for every change on any instance (this one included); resolves once listening. */
export async function subscribeLive(ctx: AppContext, listener: Listener): Promise<() => void> {
  const reg = ctx.state.liveChanges
  await reg.ready
  reg.listeners.add(listener)
  return () => reg.listeners.delete(listener)
}

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += IDS_PER_NOTICE) out.push(items.slice(i, i + IDS_PER_NOTICE))
  return out
}

/** Tells every instance. Never throws: a lost notice delays a list, it must not fail the change. */
export async function publishLive(ctx: AppContext, change: LiveChange): Promise<void> {
  const parts: LiveChange[] =
    change.topic === 'usage'
      ? chunks(change.user_ids).map((user_ids, i) => ({
          ...change,
          user_ids,
          api_key_ids: i === 0 ? change.api_key_ids : [],
        }))
      : change.topic === 'machines'
        ? chunks(change.machine_ids).map((machine_ids) => ({ ...change, machine_ids }))
        : chunks(change.session_ids).map((session_ids) => ({ ...change, session_ids }))
  for (const part of parts) {
    try {
      await ctx.database.notify(LIVE_CHANNEL, JSON.stringify(part))
    } catch (error) {
      ctx.log.warn('live notice failed', { topic: change.topic, error })
    }
  }
}

/** One machine changed. */
export const publishMachineChange = (
  ctx: AppContext,
  kind: MachineChangeKind,
  machineId: string,
  extra: { registration_id?: string; user_id?: number } = {},
) => publishLive(ctx, { topic: 'machines', kind, machine_ids: [machineId], ...extra })

export const publishSessionChange = (ctx: AppContext, kind: SessionChangeKind, sessionId: string) =>
  publishLive(ctx, { topic: 'sessions', kind, session_ids: [sessionId] })
