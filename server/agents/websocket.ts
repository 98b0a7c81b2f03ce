// The agent WebSocket (GET /api/remote/agent/ws): Bun's WebSocket server through Elysia's
// .ws(). Bun-only, so it sits in this one module; on other runtimes the route answers 501
// and agents use long-poll. The token is checked before the upgrade (401 + goodbye).
import { Elysia } from 'elysia'
import { AGENT_WS_PATH, CLOSE_GOODBYE, MAX_FRAME_BYTES, ServerFrame } from '../../protocol/index.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { documented } from '../http/schema.ts'
import { claimCommands, markSent } from './commands.ts'
import { type FrameReports, handleRawFrame } from './frames.ts'
import { type AgentIdentity, agentGuard } from './guard.ts'
import type { PushChannel } from './hub.ts'
import { markDisconnected } from './presence.ts'

interface RawSocket {
  send(data: string | Uint8Array): number
  close(code?: number, reason?: string): void
}

interface Connection {
  agent: AgentIdentity
  channel: PushChannel
  epoch: number
  /** Frames and deliveries run one after another, so output and commands keep their order. */
  queue: Promise<void>
  open: boolean
  /** The hello is stored: the machine is online and commands may go out. */
  welcomed: boolean
  /**
   * Claims queued or running (counted from when they are queued): while any is, a command
   * queued here waits for a claim too, so it never overtakes what that claim sends.
   */
  claims: number
  /** Text of frames received and not yet handled (they wait while the agent is over its rate). */
  queuedBytes: number
  /** Why the server closed it, if it did (decides whether the machine goes offline at once). */
  closedBy?: 'revoked' | 'superseded' | 'shutdown'
}

/**
 * An agent sends a window of unanswered frames (agent/outbox.ts SEND_WINDOW, 2 MiB); one that
 * ignores it and keeps sending while its frames wait is cut off here rather than held in memory.
 */
export const MAX_QUEUED_FRAME_BYTES = 4 * MAX_FRAME_BYTES
/** Close code for an agent that sent far past its window (it reconnects and sends again). */
export const CLOSE_FLOODED = 1008

/** The upgrade in the OpenAPI document: a socket is described there, never checked as a value. */
const SOCKET_DETAIL = {
  summary: 'The agent channel (WebSocket, agent token): frames both ways, terminal bytes as binary',
  responses: documented(
    101,
    'Switching Protocols: the server then sends JSON text frames (commands, replies, goodbye) and binary terminal messages',
    { 'application/json': ServerFrame },
  ),
}

export const webSocketSupported = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined'

export function agentWebSocketRoutes(ctx: AppContext, reports: FrameReports) {
  const plugin = new Elysia({ name: 'agents.ws', seed: ctx.id })
  if (!webSocketSupported) {
    return plugin.get(AGENT_WS_PATH, () => {
      throw new HttpError(501, 'WebSocket is not available on this server; use long-poll', 'not_implemented')
    })
  }
  const hub = ctx.state.channelHub
  const connections = new WeakMap<object, Connection>()
  const graceTimers = new Set<ReturnType<typeof setTimeout>>()
  ctx.onClose(() => {
    for (const timer of graceTimers) clearTimeout(timer)
  })

  function enqueue(conn: Connection, task: () => Promise<void>) {
    conn.queue = conn.queue.then(task).catch((error) => {
      ctx.log.error('agent websocket task failed', { machine_id: conn.agent.machineId, error })
    })
  }

  function send(raw: RawSocket, frame: ServerFrame) {
    raw.send(JSON.stringify(frame))
  }

  /** Claims and sends; the caller counted it in conn.claims. */
  async function deliver(conn: Connection, raw: RawSocket, redeliver: boolean) {
    try {
      if (!conn.open || !conn.welcomed) return
      const commands = await claimCommands(ctx, conn.agent.machineId, { redeliver })
      for (const command of commands) send(raw, command)
    } finally {
      conn.claims--
    }
  }

  return plugin
    .use(agentGuard(ctx))
    .guard({ agentAuth: true })
    .resolve(({ agent }) => ({ admission: ctx.state.agentAdmission.admit(agent.machineId, 'websocket') }))
    .get(
      AGENT_WS_PATH,
      () => {
        throw new HttpError(
          426,
          'Connect with a WebSocket upgrade, or use POST /api/remote/agent/message',
          'upgrade_required',
        )
      },
      { detail: SOCKET_DETAIL },
    )
    .ws(AGENT_WS_PATH, {
      detail: SOCKET_DETAIL,
      open(ws) {
        const raw = ws.raw as unknown as RawSocket
        const agent = ws.data.agent
        ws.data.admission.confirm()
        const conn: Connection = {
          agent,
          epoch: 0,
          queuedBytes: 0,
          queue: hub.ready,
          open: true,
          welcomed: false,
          claims: 0,
          channel: {
            machineId: agent.machineId,
            tokenHash: agent.tokenHash,
            wake: () => {
              conn.claims++
              enqueue(conn, () => deliver(conn, raw, false))
            },
            offer: (queued) => {
              if (!conn.open || !conn.welcomed || conn.claims > 0) return false
              send(raw, queued.command)
              markSent(ctx, agent.machineId, [queued])
              return true
            },
            sendBinary: (data) => {
              if (conn.open) raw.send(data)
            },
            revoke: (reason) => {
              conn.closedBy = 'revoked'
              send(raw, { type: 'goodbye', reason, message: `Agent token no longer valid (${reason})` })
              raw.close(CLOSE_GOODBYE, reason)
            },
            close: (code, reason) => {
              conn.closedBy =
                code === CLOSE_GOODBYE ? 'revoked' : reason === 'superseded' ? 'superseded' : 'shutdown'
              raw.close(code, reason)
            },
          },
        }
        connections.set(raw, conn)
        hub.attachPush(conn.channel)
        // Online only once the hello is stored (frames.ts): an open socket alone has told
        // nothing about the machine's capabilities.
        enqueue(conn, () =>
          ctx.audit(
            'agent.connect',
            agent.actor,
            { type: 'machine', id: agent.machineId },
            { transport: 'websocket' },
          ),
        )
      },
      message(ws, message) {
        const raw = ws.raw as unknown as RawSocket
        const conn = connections.get(raw)
        if (!conn) return
        // Binary messages are terminal bytes: relayed at once, outside the frame queue.
        if (message instanceof Uint8Array) return reports.terminalBytes(ctx, conn.agent.machineId, message)
        const size = typeof message === 'string' ? message.length : JSON.stringify(message).length
        conn.queuedBytes += size
        if (conn.queuedBytes > MAX_QUEUED_FRAME_BYTES) {
          ctx.log.warn('agent sent far past its window; closing its socket', {
            machine_id: conn.agent.machineId,
            queued_bytes: conn.queuedBytes,
          })
          conn.open = false
          raw.close(CLOSE_FLOODED, 'too many unanswered frames')
          return
        }
        enqueue(conn, async () => {
          const outcome = await handleRawFrame(ctx, conn.agent, message, reports, 'websocket').finally(() => {
            conn.queuedBytes -= size
          })
          // A new connection gets everything not yet acked: whatever was in flight when the last
          // one dropped, claimed before the welcome goes out and sent right after it (a command
          // queued meanwhile waits for a claim: counted before `welcomed` lets one through).
          const redeliver =
            outcome.hello === true && conn.open && (conn.welcomed || outcome.epoch !== undefined)
          if (redeliver) conn.claims++
          if (outcome.epoch !== undefined) {
            conn.epoch = outcome.epoch
            conn.welcomed = true
          }
          try {
            const redelivered = redeliver
              ? await claimCommands(ctx, conn.agent.machineId, { redeliver: true })
              : []
            if (conn.open) for (const reply of outcome.replies) send(raw, reply)
            if (conn.open) for (const command of redelivered) send(raw, command)
          } finally {
            if (redeliver) conn.claims--
          }
          // NOTIFY wake-ups are lost while the database connection is re-established (a Postgres
          // restart): each heartbeat also looks for pending commands, so none waits longer.
          if (outcome.heartbeat) {
            conn.claims++
            await deliver(conn, raw, false)
          }
        })
      },
      close(ws, code) {
        ws.data.admission.release()
        const raw = ws.raw as unknown as RawSocket
        const conn = connections.get(raw)
        if (!conn) return
        conn.open = false
        hub.detachPush(conn.channel)
        enqueue(conn, async () => {
          const { machineId } = conn.agent
          if (hub.closing) return
          await ctx.audit('agent.disconnect', conn.agent.actor, { type: 'machine', id: machineId }, { code })
          if (conn.closedBy === 'superseded' || conn.closedBy === 'shutdown') return
          if (conn.closedBy === 'revoked')
            return markDisconnected(ctx, machineId, conn.epoch, 'token revoked')
          const timer = setTimeout(() => {
            graceTimers.delete(timer)
            if (hub.closing) return
            void markDisconnected(ctx, machineId, conn.epoch, 'socket closed').catch((error) =>
              ctx.log.warn('mark offline failed', { machine_id: machineId, error }),
            )
          }, ctx.config.agentChannel.offlineGraceMs)
          graceTimers.add(timer)
        })
      },
    })
}
