// The one module that talks to the server. Calls go through Eden Treaty, typed from the server's
// `App`; every failure becomes an ApiError carrying the server's {"error":{message,type,field}}.
// The live session stream (SSE) is the one call outside Eden: EventSource, with its record
// type taken from the session detail's own output type.
import { treaty } from '@elysiajs/eden'
import type {
  ChangedFile,
  ChangesList,
  DiffHunk,
  FileDiff,
  IsolationLevel,
  StoredOutputEvent,
  TerminalServerMessage,
} from '../../../protocol/index.ts'
import {
  CLOSE_TERMINAL_ENDED,
  CLOSE_TERMINAL_REVOKED,
  readOffsetPayload,
  TERMINAL_ACK_EVERY_BYTES,
} from '../../../protocol/terminal.ts'
import type { App } from '../../../server/app.ts'
import type { MachineChangeKind, SessionChangeKind } from '../../../server/live/bus.ts'
import type { ChangedEvent } from '../../../server/live/stream.ts'

/** The server's own live-state set (a session that takes messages and controls). */
export { isLiveStatus } from '../../../server/db/schema/session-status.ts'

import type { SessionStatus } from '../../../server/db/schema/session-status.ts'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly field?: string,
    readonly retryAfter?: number,
    /** A validation refusal's rule (server/http/patterns.ts), worded per language by the UI. */
    readonly rule?: string,
  ) {
    super(message)
  }
}

const ORIGIN = typeof location === 'undefined' ? 'http://localhost' : location.origin
// parseDate off: the API's types say timestamps are ISO strings, so keep them strings at run time.
const EDEN_OPTIONS = { fetch: { credentials: 'same-origin' as const }, parseDate: false }
const client = treaty<App>(ORIGIN, EDEN_OPTIONS)

let onUnauthorized: (() => void) | null = null
/** Called when a request answers 401 (session ended); the app shell sends the user to /login. */
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler
}

type EdenResult<T> =
  | { data: T; error: null; response: Response }
  | { data: null; error: { status: unknown; value: unknown }; response: Response }

function errorOf(status: number, value: unknown, response: Response | undefined): ApiError {
  const body = (value ?? {}) as {
    error?: { message?: string; type?: string; field?: string; rule?: string }
  }
  const retry = Number(response?.headers.get('retry-after'))
  return new ApiError(
    status,
    body.error?.message ?? (typeof value === 'string' && value ? value : `Request failed (${status})`),
    body.error?.type ?? 'error',
    body.error?.field,
    Number.isFinite(retry) && retry > 0 ? retry : undefined,
    body.error?.rule,
  )
}

async function unwrap<T>(call: Promise<EdenResult<T>>, { quiet401 = false } = {}): Promise<T> {
  let result: EdenResult<T>
  try {
    result = await call
  } catch (cause) {
    throw new ApiError(0, cause instanceof Error ? cause.message : 'Network error', 'network_error')
  }
  if (result.error === null) return result.data
  const status = typeof result.error.status === 'number' ? result.error.status : result.response.status
  if (status === 0 || result.response === undefined) throw new ApiError(0, 'Network error', 'network_error')
  if (status === 401 && !quiet401) onUnauthorized?.()
  throw errorOf(status, result.error.value, result.response)
}

const api = client.api
/** What a call resolves to, and the body a route takes: read off the Eden client's own types. */
type Data<F extends (...args: never[]) => Promise<unknown>> = Awaited<ReturnType<F>>
type BodyOf<F extends (...args: never[]) => unknown> = NonNullable<Parameters<F>[0]>

export const auth = {
  login: (username: string, password: string) =>
    unwrap(api.auth.login.post({ username, password }), { quiet401: true }),
  /** Ends the session; end_session_url, when set, is where the browser ends it at the provider. */
  logout: () => unwrap(api.auth.logout.post()),
  /** What the login page offers: passwords (or only break-glass) and the OpenID provider. */
  methods: () => unwrap(api.auth.methods.get(), { quiet401: true }),
  /** The logged-in user, or null when nobody is (no redirect: callers decide). */
  me: async () => {
    try {
      return (await unwrap(api.auth.me.get(), { quiet401: true })).user
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return null
      throw error
    }
  },
}
export type User = NonNullable<Data<typeof auth.me>>

export const users = {
  list: async () => (await unwrap(api.users.get())).users,
  create: async (body: BodyOf<typeof api.users.post>) => (await unwrap(api.users.post(body))).user,
  update: async (id: number, body: BodyOf<ReturnType<typeof api.users>['patch']>) =>
    (await unwrap(api.users({ id }).patch(body))).user,
  remove: (id: number) => unwrap(api.users({ id }).delete()),
}

export const tenants = {
  list: async () => (await unwrap(api.tenants.get())).tenants,
  create: async (name: string) => (await unwrap(api.tenants.post({ name }))).tenant,
  rename: async (id: number, name: string) => (await unwrap(api.tenants({ id }).patch({ name }))).tenant,
  remove: (id: number) => unwrap(api.tenants({ id }).delete()),
}
export type Tenant = Data<typeof tenants.list>[number]

export type NewToken = BodyOf<typeof api.tokens.post>
export const tokens = {
  list: async (all = false) => (await unwrap(api.tokens.get({ query: all ? { all } : {} }))).tokens,
  create: (body: NewToken) => unwrap(api.tokens.post(body)),
  revoke: async (id: number) => (await unwrap(api.tokens({ id }).delete())).personal_access_token,
}
export type AccessToken = Data<typeof tokens.list>[number]
export type TokenScope = AccessToken['scopes'][number]

export type AuditQuery = NonNullable<NonNullable<Parameters<typeof api.audit.get>[0]>['query']>
export const audit = {
  list: (query: AuditQuery) => unwrap(api.audit.get({ query })),
  /** The CSV download of the same filter (a plain link: the browser saves the file). */
  exportUrl: (query: Omit<AuditQuery, 'limit' | 'before_id'>) => `/api/audit/export.csv${searchOf(query)}`,
}
/** The server's event codes, each worded in zh/en by the audit page. */
export { AUDIT_EVENTS, type AuditEvent } from '../../../server/audit/events.ts'
export type AuditEntry = Data<typeof audit.list>['entries'][number]

const keys = api.remote['api-keys']
/** Each stored key's model list (cached on the server), for the model picker. */
export const llmModels = {
  list: async () => (await unwrap(api.remote.models.get({ query: {} }))).models,
}
export type KeyModels = Data<typeof llmModels.list>[number]

export const apiKeys = {
  list: async () => (await unwrap(keys.get())).api_keys,
  create: async (body: BodyOf<typeof keys.post>) => (await unwrap(keys.post(body))).api_key,
  update: async (id: number, body: BodyOf<ReturnType<typeof keys>['patch']>) =>
    (await unwrap(keys({ id }).patch(body))).api_key,
  remove: (id: number) => unwrap(keys({ id }).delete()),
  /** How each key has been doing on the server instance that answers (failures, cooldown). */
  health: async () => (await unwrap(keys.health.get())).keys,
  /** One models call with the key: the models it serves, or the provider's refusal in words. */
  test: (id: number) => unwrap(keys({ id }).test.post()),
}
export type ApiKey = Data<typeof apiKeys.list>[number]
export type ApiKeyHealth = Data<typeof apiKeys.health>[number]
export type KeyTest = Data<typeof apiKeys.test>

export type QuotaLimits = BodyOf<ReturnType<typeof api.quotas.users>['put']>
export const quotas = {
  list: async () => (await unwrap(api.quotas.get())).quotas,
  setForUser: async (userId: number, body: QuotaLimits) =>
    (await unwrap(api.quotas.users({ id: userId }).put(body))).quota,
  clearForUser: (userId: number) => unwrap(api.quotas.users({ id: userId }).delete()),
}

export type UsageFilter = NonNullable<NonNullable<Parameters<typeof api.usage.breakdown.get>[0]>['query']>
export const usage = {
  forUser: (userId: number, days: number) => unwrap(api.usage.get({ query: { user_id: userId, days } })),
  /** Per day, user, provider, model, key and machine, priced (own; admins: all or one user). */
  breakdown: (query: UsageFilter) => unwrap(api.usage.breakdown.get({ query })),
  exportUrl: (query: UsageFilter & { group_by: string }) => `/api/usage/export.csv${searchOf(query)}`,
  prices: async () => (await unwrap(api.usage.prices.get())).prices,
  setPrice: async (body: BodyOf<typeof api.usage.prices.put>) =>
    (await unwrap(api.usage.prices.put(body))).price,
  removePrice: (id: number) => unwrap(api.usage.prices({ id }).delete()),
}
export type UsageReport = Data<typeof usage.forUser>
export type UsageBreakdown = Data<typeof usage.breakdown>
export type UsageRow = UsageBreakdown['totals']
export type ModelPrice = Data<typeof usage.prices>[number]

/** `?a=1&b=x` of the set values (for the plain links of CSV downloads). */
function searchOf(query: Record<string, string | number | undefined | null>): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query))
    if (value !== undefined && value !== null && value !== '') params.set(name, String(value))
  const text = params.toString()
  return text ? `?${text}` : ''
}

const machine = api.remote.machines
export const machines = {
  list: async () => (await unwrap(machine.get())).machines,
  /** A directory's entries on the machine, through its agent (`path` omitted: the agent's home). */
  browse: (id: string, path?: string) =>
    unwrap(machine({ id }).browse.get({ query: path === undefined ? {} : { path } })),
  users: async (id: string) => (await unwrap(machine({ id }).users.get())).users,
  register: (tenantId: number) => unwrap(machine.register.post({ tenant_id: tenantId })),
  assign: (id: string, userId: number, permission: 'user' | 'admin') =>
    unwrap(machine({ id }).assign.post({ user_id: userId, permission })),
  revoke: (id: string, userId: number) => unwrap(machine({ id }).assign({ user_id: userId }).delete()),
  deregister: (id: string) => unwrap(machine({ id }).delete()),
  rotateToken: (id: string) => unwrap(machine({ id }).token.rotate.post()),
  revokeToken: (id: string) => unwrap(machine({ id }).token.revoke.post()),
  get: async (id: string) => (await unwrap(machine({ id }).get())).machine,
  /** The agent's newest log lines, oldest first (machine admins; the agent masks secrets). */
  log: async (id: string) => (await unwrap(machine({ id }).log.get({ query: {} }))).lines,
  /** Newest first; `status` a status or live / ended; the next page from `next_cursor`. */
  sessions: (id: string, query: { status?: MachineSessionFilter; limit?: number; cursor?: string } = {}) =>
    unwrap(machine({ id }).sessions.get({ query })),
  /** allowed_cli_tools null = follow what the agent detects. */
  updateSettings: async (
    id: string,
    body: {
      allowed_cli_tools?: string[] | null
      required_isolation?: IsolationLevel
      auto_update?: boolean | null
      update_window?: string | null
      labels?: string[]
      /** null: the agent's own limit. */
      max_sessions?: number | null
    },
  ) => (await unwrap(machine({ id }).settings.patch(body))).machine,
  versions: () => unwrap(machine.versions.get()),
  /** Who may open terminals on the machine: its admins only, or all its assigned users too. */
  setTerminalAccess: (id: string, access: 'admins' | 'assigned') =>
    unwrap(machine({ id })['terminal-access'].put({ terminal_access: access })),
  /** "Update now": sent at once, or when the machine is online and (unless forced) idle. */
  update: (id: string, force = false) => unwrap(machine({ id }).update.post({ force })),
  updateAll: (force = false) => unwrap(machine['update-all'].post({ force })),
}
export type UpdateRequest = Data<typeof machines.update>

/** The first-run checklist (system admins): each step done or not, from the server's real state. */
export const setup = { get: () => unwrap(api.setup.get()) }
export type SetupState = Data<typeof setup.get>
export type SetupStep = SetupState['steps'][number]['id']
export type FleetVersions = Data<typeof machines.versions>
export type Machine = Data<typeof machines.list>[number]
export type MachineSession = Data<typeof machines.sessions>['sessions'][number]
export type MachineSessionFilter = SessionStatus | 'live' | 'ended'
export type LoadSample = Machine['load_history'][number]
export type AssignedUser = Data<typeof machines.users>[number]
export type MachinePermission = AssignedUser['permission']
export type RegistrationToken = Data<typeof machines.register>
export type { IsolationLevel }

const session = api.remote.sessions
export type CreateSessionBody = BodyOf<typeof session.post>
export type SessionAction = 'stop' | 'pause' | 'resume' | 'abort'
export const sessions = {
  /** `all: false` limits a system admin to their own sessions (the workspace view). */
  list: async (all?: boolean) =>
    (await unwrap(session.get({ query: all === undefined ? {} : { all } }))).sessions,
  get: async (id: string) => (await unwrap(session({ id }).get())).session,
  create: async (body: CreateSessionBody) => (await unwrap(session.post(body))).session,
  chat: (id: string, content: string) => unwrap(session({ id }).chat.post({ content })),
  act: (id: string, action: SessionAction) => unwrap(session({ id })[action].post()),
  /** A stopped session goes on: a new CLI process resuming its conversation. */
  continue: async (id: string) => (await unwrap(session({ id }).continue.post())).session,
  /** A session stopped by its quota continues by itself when the quota resets (or not). */
  autoContinue: async (id: string, enabled: boolean) =>
    (await unwrap(session({ id })['auto-continue'].put({ enabled }))).session,
  answerPermission: (id: string, requestId: string, allow: boolean, always = false) =>
    unwrap(session({ id }).permission.post({ request_id: requestId, allow, always })),
  /** The session's "always allow" rules in force. */
  permissionRules: async (id: string) => (await unwrap(session({ id })['permission-rules'].get())).rules,
  revokePermissionRule: async (id: string, tool: string) =>
    (await unwrap(session({ id })['permission-rules']({ tool }).delete())).rules,
}
export type SessionSummary = Data<typeof sessions.list>[number]
export type SessionDetail = Data<typeof sessions.get>
/** One output record; `event` carries the CLI adapter's parsed event (protocol/events.ts). */
export type SessionRecord = Omit<SessionDetail['output'][number], 'event'> & {
  event: StoredOutputEvent | null
}
/** A record's event: the CLI adapter's, or the server's own notice (output dropped at the limit). */
export type OutputEvent = StoredOutputEvent
export type SessionAlert = NonNullable<SessionDetail['alert']>
export type SessionPermissionOutcome = SessionDetail['permission_outcomes'][number]
export type SessionWorking = NonNullable<SessionDetail['working']>

export interface SessionStreamHandlers {
  onRecord: (record: SessionRecord) => void
  onStatus: (status: string) => void
  /** Access the stream depended on was taken away (reason code); the stream is over. */
  onRevoked?: (reason: string) => void
  /** The stream dropped and is reconnecting (true), or is connected again (false). */
  onConnection: (reconnecting: boolean) => void
  /** The LLM proxy refused one of the session's calls (quota, key, upstream). */
  onAlert?: (alert: SessionAlert) => void
  /** A permission request was answered (by a person, or by a rule or the session's mode). */
  onPermission?: (outcome: SessionPermissionOutcome) => void
}

const STREAM_RETRY_MIN_MS = 1000
const STREAM_RETRY_MAX_MS = 15_000

/**
 * Watches a session's live output (SSE), starting after `afterSeq`. The browser's EventSource
 * resends Last-Event-ID on its own reconnects; if the server ends the stream, a new one opens
 * from the last seq seen (`?last_event_id=`) after a growing delay, so nothing is missed.
 * Callers still de-duplicate by seq. Returns a function that stops watching.
 */
export function watchSession(id: string, afterSeq: number, handlers: SessionStreamHandlers): () => void {
  let source: EventSource | null = null
  let lastSeq = afterSeq
  let delay = STREAM_RETRY_MIN_MS
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false

  const parse = (raw: string): Record<string, unknown> | null => {
    try {
      return JSON.parse(raw)
    } catch {
      return null
    }
  }
  const open = () => {
    const url = `/api/remote/sessions/${encodeURIComponent(id)}/stream?last_event_id=${lastSeq}`
    source = new EventSource(url, { withCredentials: true })
    source.onopen = () => {
      delay = STREAM_RETRY_MIN_MS
      handlers.onConnection(false)
    }
    source.addEventListener('output', (event) => {
      const record = parse(event.data) as SessionRecord | null
      if (!record || typeof record.seq !== 'number') return
      lastSeq = Math.max(lastSeq, record.seq)
      handlers.onRecord(record)
    })
    source.addEventListener('alert', (event) => {
      const alert = parse(event.data) as SessionAlert | null
      if (alert && typeof alert.message === 'string') handlers.onAlert?.(alert)
    })
    source.addEventListener('permission', (event) => {
      const outcome = parse(event.data) as SessionPermissionOutcome | null
      if (outcome && typeof outcome.request_id === 'string') handlers.onPermission?.(outcome)
    })
    source.addEventListener('status', (event) => {
      const status = parse(event.data)?.status
      if (typeof status === 'string') handlers.onStatus(status)
    })
    source.addEventListener('access.revoked', (event) => {
      const reason = parse(event.data)?.reason
      stopped = true
      source?.close()
      handlers.onRevoked?.(typeof reason === 'string' ? reason : 'unassigned')
    })
    source.onerror = () => {
      if (stopped) return
      handlers.onConnection(true)
      if (source?.readyState !== EventSource.CLOSED) return
      timer = setTimeout(open, delay)
      delay = Math.min(delay * 2, STREAM_RETRY_MAX_MS)
    }
  }
  open()
  return () => {
    stopped = true
    clearTimeout(timer)
    source?.close()
  }
}

const terminal = api.remote.terminals
export const terminals = {
  /** Opens the caller's terminal on a machine (beside a session when given), or finds the open one. */
  open: async (machineId: string, sessionId?: string) =>
    (await unwrap(terminal.post({ machine_id: machineId, ...(sessionId ? { session_id: sessionId } : {}) })))
      .terminal,
  close: (id: string) => unwrap(terminal({ id }).delete()),
}
export type TerminalInfo = Data<typeof terminals.open>
export type { TerminalServerMessage }
export { CLOSE_TERMINAL_ENDED, CLOSE_TERMINAL_REVOKED, readOffsetPayload, TERMINAL_ACK_EVERY_BYTES }

/** A session's changes panel; answers are the agent's, typed by the wire contract. */
const changesOf = (id: string) => session({ id }).changes
export const changes = {
  list: async (id: string): Promise<ChangesList> => unwrap(changesOf(id).get()),
  diff: async (id: string, path: string): Promise<FileDiff> =>
    unwrap(changesOf(id).diff.get({ query: { path } })),
  revert: (id: string, path: string, hunkId?: string) =>
    unwrap(changesOf(id).revert.post({ path, ...(hunkId ? { hunk_id: hunkId } : {}) })),
  stage: (id: string, paths?: string[]) => unwrap(changesOf(id).stage.post(paths ? { paths } : {})),
  commit: (id: string, message: string) => unwrap(changesOf(id).commit.post({ message })),
}
export type { ChangedFile, ChangesList, DiffHunk, FileDiff }

/** Calls `onChanged` whenever the agent sees the session's project change (SSE `changed`). */
export function watchChanges(id: string, onChanged: () => void): () => void {
  const source = new EventSource(`/api/remote/sessions/${encodeURIComponent(id)}/changes/events`, {
    withCredentials: true,
  })
  source.addEventListener('changed', () => onChanged())
  // A reconnect may have missed a notice: read the list again once the stream is back.
  let dropped = false
  source.onerror = () => {
    dropped = true
  }
  source.onopen = () => {
    if (dropped) setTimeout(onChanged, 0)
    dropped = false
  }
  return () => source.close()
}

/** The admin views' live streams: `ready` (refetch), then `changed` for each change the reader may see. */
export type LiveTopic = ChangedEvent['topic']
export type { ChangedEvent, MachineChangeKind, SessionChangeKind }

const LIVE_URLS: Record<LiveTopic, string> = {
  machines: '/api/remote/machines/events',
  sessions: '/api/remote/sessions/events',
  usage: '/api/usage/events',
}

export interface LiveHandlers {
  /** The stream (re)opened, or what the reader may see changed: refetch everything. */
  onReady(): void
  onChanged(event: ChangedEvent): void
  /** The reader's access ended; the stream is closed for good. */
  onRevoked?(reason: string): void
}

/** One EventSource per topic in this tab, shared by everyone watching it, and none while the
 * tab is hidden: browsers allow six open connections per server over HTTP/1.1, so streams of
 * background tabs would starve the foreground one. A tab shown again reconnects, and `ready`
 * makes its watchers refetch what they missed. */
interface SharedLive {
  handlers: Set<LiveHandlers>
  stop(): void
}
const liveSources = new Map<LiveTopic, SharedLive>()

function openLive(topic: LiveTopic, handlers: Set<LiveHandlers>): () => void {
  let source: EventSource | null = null
  let delay = STREAM_RETRY_MIN_MS
  let timer: ReturnType<typeof setTimeout> | undefined
  let stopped = false
  const each = (fn: (h: LiveHandlers) => void) => {
    for (const h of [...handlers]) fn(h)
  }
  const open = () => {
    source = new EventSource(LIVE_URLS[topic], { withCredentials: true })
    source.onopen = () => {
      delay = STREAM_RETRY_MIN_MS
    }
    source.addEventListener('ready', () => each((h) => h.onReady()))
    source.addEventListener('changed', (event) => {
      let parsed: ChangedEvent | null = null
      try {
        parsed = JSON.parse(event.data) as ChangedEvent
      } catch {}
      each((h) => (parsed ? h.onChanged(parsed) : h.onReady()))
    })
    source.addEventListener('access.revoked', (event) => {
      stopped = true
      source?.close()
      liveSources.delete(topic)
      let reason = 'unassigned'
      try {
        reason = (JSON.parse(event.data) as { reason?: string }).reason ?? reason
      } catch {}
      each((h) => h.onRevoked?.(reason))
    })
    source.onerror = () => {
      if (stopped || source?.readyState !== EventSource.CLOSED) return
      timer = setTimeout(open, delay)
      delay = Math.min(delay * 2, STREAM_RETRY_MAX_MS)
    }
  }
  const visibility = () => {
    if (stopped) return
    if (document.visibilityState === 'hidden') {
      clearTimeout(timer)
      source?.close()
      source = null
    } else if (!source) open()
  }
  document.addEventListener('visibilitychange', visibility)
  if (document.visibilityState !== 'hidden') open()
  return () => {
    stopped = true
    clearTimeout(timer)
    source?.close()
    document.removeEventListener('visibilitychange', visibility)
  }
}

/**
 * Follows one topic's live stream. EventSource reconnects by itself after a dropped connection;
 * a refused one (the server restarting) is retried with backoff. A watcher joining a stream
 * that is already open gets `onReady` at once (it refetches, as after a connect). Returns a
 * function that stops watching; the stream closes with its last watcher.
 */
export function watchLive(topic: LiveTopic, handlers: LiveHandlers): () => void {
  let shared = liveSources.get(topic)
  if (shared) {
    shared.handlers.add(handlers)
    queueMicrotask(() => handlers.onReady())
  } else {
    const set = new Set<LiveHandlers>([handlers])
    shared = { handlers: set, stop: openLive(topic, set) }
    liveSources.set(topic, shared)
  }
  const mine = shared
  return () => {
    mine.handlers.delete(handlers)
    if (mine.handlers.size === 0) {
      mine.stop()
      if (liveSources.get(topic) === mine) liveSources.delete(topic)
    }
  }
}
