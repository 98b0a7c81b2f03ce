// The session event bus: new output records and status changes for whoever watches a session
// (the browser's SSE stream). Published through Postgres NOTIFY, so a watcher on any server
// instance hears about output an agent delivered to another; records are read back from the
// table, so a NOTIFY payload stays small. Output an agent just sent is also told to this
// instance's streams before it is stored (announceArrivingOutput), so they need not wait for the
// insert; the stored event follows either way.
import { and, eq, inArray } from 'drizzle-orm'
import type { OutputStream, StoredOutputEvent } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import {
  type PermissionDecision,
  type SessionAlert,
  type SessionStatus,
  sessionOutput,
} from '../db/schema/index.ts'
import { KeyedListeners } from '../live/keyed-listeners.ts'

export const SESSION_EVENTS_CHANNEL = 'oa_session_events'
/** NOTIFY payloads are limited to 8000 bytes; seq lists are split into chunks this long. */
const SEQS_PER_NOTIFY = 400

export interface StoredOutputRecord {
  seq: number
  stream: OutputStream
  data: string
  event: StoredOutputEvent | null
  ts: string
}

/** How a permission request was answered, for every watcher (the prompt closes everywhere). */
export interface PermissionOutcome {
  request_id: string
  tool_name: string
  decision: PermissionDecision
  always: boolean
  /** Who answered: the person, or the session by itself (an "always allow" rule or its mode). */
  by: 'user' | 'auto'
}

export type SessionEvent =
  | { type: 'output'; session_id: string; records: StoredOutputRecord[] }
  | { type: 'status'; session_id: string; status: SessionStatus }
  | { type: 'permission'; session_id: string; outcome: PermissionOutcome }
  | { type: 'alert'; session_id: string; alert: SessionAlert }

/** `o`: the publishing instance, which has told its own watchers from memory already. */
type Notice = { o: string; s: string } & (
  | { k: 'output'; q: number[] }
  | { k: 'status'; v: SessionStatus }
  | { k: 'permission'; p: PermissionOutcome }
  | { k: 'alert'; a: SessionAlert }
)
type Listener = (event: SessionEvent) => void
/** Records as they will be stored, told before the insert settles (some may turn out duplicates). */
type ArrivingListener = (records: StoredOutputRecord[]) => void

/** Any session's event, without its records: what the live session lists need to hear. */
export type SessionEventKind = SessionEvent['type']
type AnyListener = (sessionId: string, kind: SessionEventKind) => void

/** This instance's watchers per session, behind one LISTEN (ctx.state.sessionEvents). */
export interface SessionEventRegistry {
  listeners: KeyedListeners<[event: SessionEvent]>
  /** Every session's events (the live lists), told before any per-session read. */
  any: Set<AnyListener>
  /** Per session, the streams that take output before it is stored. */
  arriving: KeyedListeners<[records: StoredOutputRecord[]]>
  ready: Promise<void>
}

export function createSessionEventRegistry(ctx: AppContext): SessionEventRegistry {
  const listeners = new KeyedListeners<[event: SessionEvent]>()
  const any = new Set<AnyListener>()
  const ready = ctx.database
    .listen(SESSION_EVENTS_CHANNEL, (payload) => {
      void dispatch(ctx, listeners, any, payload).catch((error) =>
        ctx.log.warn('session event dispatch failed', { error }),
      )
    })
    .then((unlisten) => ctx.onClose(unlisten))
  return { listeners, any, arriving: new KeyedListeners(), ready }
}

async function dispatch(
  ctx: AppContext,
  listeners: KeyedListeners<[event: SessionEvent]>,
  any: Set<AnyListener>,
  payload: string,
) {
  const notice = JSON.parse(payload) as Notice
  if (notice.o === ctx.id) return
  for (const fn of any) fn(notice.s, notice.k)
  if (!listeners.has(notice.s)) return
  let event: SessionEvent
  if (notice.k === 'status') event = { type: 'status', session_id: notice.s, status: notice.v }
  else if (notice.k === 'permission') event = { type: 'permission', session_id: notice.s, outcome: notice.p }
  else if (notice.k === 'alert') event = { type: 'alert', session_id: notice.s, alert: notice.a }
  else {
    const rows = await ctx.db
      .select()
      .from(sessionOutput)
      .where(and(eq(sessionOutput.sessionId, notice.s), inArray(sessionOutput.seq, notice.q)))
      .orderBy(sessionOutput.seq)
    const records = rows.map((r) => ({
      seq: r.seq,
      stream: r.stream,
      data: r.data,
      event: r.event,
      ts: r.ts.toISOString(),
    }))
    event = { type: 'output', session_id: notice.s, records }
  }
  listeners.emit(notice.s, event)
}

/**
 * Calls `listener` for every new output record and status change of the session, on whichever
 * instance the agent is connected to. Resolves once listening; returns the unsubscribe function.
 */
export async function subscribeSessionEvents(ctx: AppContext, sessionId: string, listener: Listener) {
  const reg = ctx.state.sessionEvents
  await reg.ready
  return reg.listeners.add(sessionId, listener)
}

/**
 * Calls `listener` with output an agent connected here sent for the session, before it is
 * stored. Only for a watcher that can tell a record it already has (by seq) from a new one: the
 * stored event for the same records follows.
 */
export function subscribeArrivingOutput(ctx: AppContext, sessionId: string, listener: ArrivingListener) {
  return ctx.state.sessionEvents.arriving.add(sessionId, listener)
}

/**
 * Output about to be stored, as it will read back (in seq order): this instance's streams may
 * send it at once. The caller stores exactly these records next (or the agent sends them again).
 */
export function announceArrivingOutput(
  ctx: AppContext,
  sessionId: string,
  records: StoredOutputRecord[],
): void {
  ctx.peek('sessionEvents')?.arriving.emit(sessionId, records)
}

/** Calls `listener` with the id and kind of every session event, on any instance. */
export async function subscribeAnySessionEvent(ctx: AppContext, listener: AnyListener) {
  const reg = ctx.state.sessionEvents
  await reg.ready
  reg.any.add(listener)
  return () => {
    reg.any.delete(listener)
  }
}

/** Tells this instance's watchers at once, from memory. */
function tellLocal(ctx: AppContext, event: SessionEvent): void {
  const reg = ctx.peek('sessionEvents')
  if (!reg) return
  for (const fn of reg.any) fn(event.session_id, event.type)
  reg.listeners.emit(event.session_id, event)
}

/**
 * Announces newly stored records (in seq order): this instance's watchers get them from memory
 * at once, other instances by NOTIFY (they read the records back from the table).
 */
export async function publishOutput(ctx: AppContext, sessionId: string, records: StoredOutputRecord[]) {
  tellLocal(ctx, { type: 'output', session_id: sessionId, records })
  for (let i = 0; i < records.length; i += SEQS_PER_NOTIFY) {
    const q = records.slice(i, i + SEQS_PER_NOTIFY).map((r) => r.seq)
    const notice: Notice = { o: ctx.id, s: sessionId, k: 'output', q }
    await ctx.database.notify(SESSION_EVENTS_CHANNEL, JSON.stringify(notice))
  }
}

export async function publishStatus(ctx: AppContext, sessionId: string, status: SessionStatus) {
  tellLocal(ctx, { type: 'status', session_id: sessionId, status })
  const notice: Notice = { o: ctx.id, s: sessionId, k: 'status', v: status }
  await ctx.database.notify(SESSION_EVENTS_CHANNEL, JSON.stringify(notice))
}

export async function publishPermissionOutcome(
  ctx: AppContext,
  sessionId: string,
  outcome: PermissionOutcome,
) {
  tellLocal(ctx, { type: 'permission', session_id: sessionId, outcome })
  const notice: Notice = { o: ctx.id, s: sessionId, k: 'permission', p: outcome }
  await ctx.database.notify(SESSION_EVENTS_CHANNEL, JSON.stringify(notice))
}

export async function publishAlert(ctx: AppContext, sessionId: string, alert: SessionAlert) {
  tellLocal(ctx, { type: 'alert', session_id: sessionId, alert })
  const notice: Notice = { o: ctx.id, s: sessionId, k: 'alert', a: alert }
  await ctx.database.notify(SESSION_EVENTS_CHANNEL, JSON.stringify(notice))
}
