// One admin view's live stream (Server-Sent Events): `ready` when it opens, then a `changed`
// event per change the reader may see, naming the ids and the kind of change, never the rows.
// The browser refetches through the list endpoint, so the stream never restates a list's
// shape or rules and a notice missed while reconnecting costs nothing: every (re)connect starts
// with `ready`, which means "refetch now" (no Last-Event-ID needed). The reader's credentials
// are re-checked whenever an access change touches them; once they no longer hold, the last
// event is `access.revoked` with the reason, and the stream closes.
import { type AccessRevokedEvent, accessRevokedFrame, subscribeAccessRevoked } from '../access/events.ts'
import { type AuthRequirement, authenticate } from '../auth/guard.ts'
import { SESSION_COOKIE } from '../auth/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import type { PeerAddressSource } from '../http/client-ip.ts'
import { endSse, formatSse, keepAlive, SSE_HEADERS, sseResponses, sseRetry } from '../http/sse.ts'
import type { LiveChange } from './bus.ts'

/** What the browser gets for one change: the topic, the kind and the ids it may know of. */
export interface ChangedEvent {
  topic: LiveChange['topic']
  kind: string
  ids: Array<string | number>
  registration_id?: string
}

export interface LiveStreamOptions {
  user: UserRow
  /** Re-reads the reader from their credentials; null once those no longer hold. */
  reauthenticate(): Promise<UserRow | null>
  /** Feeds the stream its topic's changes; returns the unsubscribe function. */
  subscribe(listener: (change: LiveChange) => void): Promise<() => void>
  /** The event the reader may see for this change, or null (nothing is sent). */
  filter(user: UserRow, change: LiveChange): Promise<ChangedEvent | null>
  /** The reader's access changed (assignment, role): forget anything cached about what they see. */
  onAccessChange?(): void
  keepaliveMs?: number
}

export function openLiveStream(ctx: AppContext, options: LiveStreamOptions): Response {
  const encoder = new TextEncoder()
  let user = options.user
  let closed = false
  const cleanups: Array<() => void> = []
  const finish = () => {
    if (closed) return
    closed = true
    for (const fn of cleanups.splice(0)) fn()
  }
  // Changes are filtered one after another, so the browser sees them in the order they came.
  let queue: Promise<void> = Promise.resolve()

  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (text: string) => {
        if (!closed) controller.enqueue(encoder.encode(text))
      }
      const revoked = async (event: AccessRevokedEvent) => {
        if (closed || event.scope.user_id !== user.id) return
        options.onAccessChange?.()
        const fresh = await options.reauthenticate()
        if (fresh) {
          user = fresh
          // What the reader may see changed (unassigned, demoted): their lists refetch.
          send(formatSse({ event: 'ready', data: { reason: event.reason } }))
          return
        }
        endSse(controller, accessRevokedFrame(event.reason), finish)
      }
      cleanups.push(
        await subscribeAccessRevoked(ctx, (event) => {
          queue = queue
            .then(() => revoked(event))
            .catch((error) => ctx.log.warn('live stream access check failed', { error }))
        }),
      )
      cleanups.push(
        await options.subscribe((change) => {
          queue = queue
            .then(async () => {
              if (closed) return
              const event = await options.filter(user, change)
              if (event && event.ids.length > 0) send(formatSse({ event: 'changed', data: event }))
            })
            .catch((error) => ctx.log.warn('live stream filter failed', { error }))
        }),
      )
      send(sseRetry())
      send(formatSse({ event: 'ready', data: {} }))
      const keepalive = keepAlive(send, options.keepaliveMs)
      cleanups.push(() => clearInterval(keepalive))
    },
    cancel() {
      finish()
    },
  })
  return new Response(stream, {
    headers: SSE_HEADERS,
  })
}

/**
 * How a stream re-checks its reader: the request's own credentials (cookie session or personal
 * access token) through the same guard as every call, with the route's requirement.
 */
export function reauthenticator(
  ctx: AppContext,
  request: Request,
  server: PeerAddressSource | null,
  cookie: Record<string, { value?: unknown } | undefined>,
  required: AuthRequirement,
): () => Promise<UserRow | null> {
  const token = cookie[SESSION_COOKIE]?.value
  return () =>
    authenticate(ctx, request, server, token, required).then(
      (auth) => auth.user,
      () => null,
    )
}

/**
 * The `GET .../events` route of a live list, as `.get(path, ...liveListRoute(ctx, {...}))`: the
 * signed-in reader's stream of one topic's changes, re-authenticated as every call is, and its
 * documented answer.
 */
export function liveListRoute(
  ctx: AppContext,
  list: Pick<LiveStreamOptions, 'subscribe' | 'filter'> & { summary: string },
) {
  return [
    ({
      user,
      request,
      server,
      cookie,
    }: {
      user: UserRow
      request: Request
      server: PeerAddressSource | null
      cookie: Record<string, { value?: unknown } | undefined>
    }) =>
      openLiveStream(ctx, {
        user,
        reauthenticate: reauthenticator(ctx, request, server, cookie, true),
        subscribe: list.subscribe,
        filter: list.filter,
      }),
    {
      auth: true as const,
      detail: { summary: list.summary, responses: sseResponses('`ready`, then `changed` events') },
    },
  ] as const
}
