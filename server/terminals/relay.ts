// This instance's terminal relay: pairs each watched terminal's browser WebSocket with the
// agent channel of its machine here (its WebSocket, or its long-poll batches) and moves bytes
// both ways without queueing them beyond the channel (the agent's flow-control window bounds
// what is in flight). One browser per terminal: a second tab takes
// it over. While the agent is away the browser is told to wait; when it is back the terminal
// is reopened from the offset the browser already shows. Access is re-checked when an
// `access.revoked` notice touches the terminal's user, machine or session (from any instance),
// so a revocation closes it at once rather than at the next poll.
import { Value } from '@sinclair/typebox/value'
import {
  CLOSE_TERMINAL_ENDED,
  CLOSE_TERMINAL_REVOKED,
  decodeTerminalMessage,
  encodeTerminalMessage,
  jsonPayload,
  offsetPayload,
  readJsonPayload,
  readOffsetPayload,
  sizePayload,
  TerminalClientMessage,
  TerminalKind,
  type TerminalOpen,
  type TerminalServerMessage,
  TerminalState,
} from '../../protocol/index.ts'
import { type AccessRevokedEvent, subscribeAccessRevoked, touches } from '../access/events.ts'
import { type Actor, SYSTEM_ACTOR } from '../audit/service.ts'
import { resolveSession } from '../auth/service.ts'
import type { UserRow } from '../auth/users.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { requireTerminalAccess } from './access.ts'
import { addTerminalBytes, closeTerminal, type TerminalRow } from './service.ts'

export interface BrowserSocket {
  sendBinary(data: Uint8Array): void
  sendText(text: string): void
  close(code: number, reason: string): void
}

export interface BrowserLink {
  terminal: TerminalRow
  user: UserRow
  sessionToken: string
  actor: Actor
  socket: BrowserSocket
  cols: number
  rows: number
  /** Offset just past the last output byte handed to the browser. */
  delivered: number
  bytesIn: number
  bytesOut: number
}

export interface TerminalRelay {
  attach(link: BrowserLink): void
  detach(link: BrowserLink): Promise<void>
  fromBrowser(link: BrowserLink, message: unknown): void
  fromAgent(machineId: string, data: Uint8Array): void
  /** Closes the record and the browser's view, then ends the shell (when its agent is here). */
  close(terminal: TerminalRow, actor: Actor, reason: string): Promise<void>
}

function say(link: BrowserLink, message: TerminalServerMessage) {
  link.socket.sendText(JSON.stringify(message))
}

/** The instance's relay (ctx.state.terminalRelay). */
export function createTerminalRelay(ctx: AppContext): TerminalRelay {
  const hub = ctx.state.channelHub
  const links = new Map<string, BrowserLink>()

  const toAgent = (link: BrowserLink, kind: TerminalKind, payload?: Uint8Array) => {
    const send = hub.terminalTo(link.terminal.machineId)
    if (!send) return false
    send(encodeTerminalMessage(kind, link.terminal.id, payload))
    return true
  }

  const openOnAgent = (link: BrowserLink) => {
    const open: TerminalOpen = {
      cols: link.cols,
      rows: link.rows,
      cwd: link.terminal.cwd,
      offset: link.delivered,
      user_id: link.terminal.userId,
      ...(link.terminal.sessionId ? { session_id: link.terminal.sessionId } : {}),
    }
    if (!toAgent(link, TerminalKind.OPEN, jsonPayload(open))) sayNotConnected(link)
  }

  /** No agent channel here: the terminal resumes when the agent's WebSocket or long-poll comes. */
  const sayNotConnected = (link: BrowserLink) => {
    if (links.get(link.terminal.id) !== link) return
    say(link, { type: 'waiting', code: 'offline', reason: 'The machine is not connected right now' })
  }

  const flushBytes = async (link: BrowserLink) => {
    const { bytesIn, bytesOut } = link
    link.bytesIn = 0
    link.bytesOut = 0
    await addTerminalBytes(ctx, link.terminal.id, bytesIn, bytesOut)
  }

  /** Ends the browser's view for good (the shell ended, or access is gone). */
  const end = async (
    link: BrowserLink,
    code: number,
    reason: string,
    actor: Actor,
    revoked?: AccessRevokedEvent['reason'],
  ) => {
    if (links.get(link.terminal.id) === link) links.delete(link.terminal.id)
    say(link, { type: 'closed', reason, ...(revoked ? { revoked } : {}) })
    try {
      await flushBytes(link)
      await closeTerminal(ctx, actor, link.terminal.id, reason)
    } finally {
      link.socket.close(code, reason.slice(0, 120))
    }
  }

  hub.onPushChange((machineId) => {
    for (const link of links.values()) if (link.terminal.machineId === machineId) openOnAgent(link)
  })

  /** Asks the rule again for a watched terminal a revocation may have touched. */
  const recheck = async (link: BrowserLink, event: AccessRevokedEvent) => {
    try {
      const user = await resolveSession(ctx, link.sessionToken)
      if (!user) return end(link, CLOSE_TERMINAL_REVOKED, 'Your session has ended', link.actor, event.reason)
      await requireTerminalAccess(ctx, user, link.terminal.machineId)
    } catch (error) {
      if (!(error instanceof HttpError && (error.status === 403 || error.status === 404))) {
        ctx.log.warn('terminal access re-check failed', { terminal_id: link.terminal.id, error })
        return
      }
      if (links.get(link.terminal.id) !== link) return
      // Access is gone: the shell is ended too, not merely detached (after the record is closed
      // with its counts, so the agent's "exited" finds nothing left to close).
      await end(link, CLOSE_TERMINAL_REVOKED, `Access revoked: ${error.message}`, SYSTEM_ACTOR, event.reason)
      toAgent(link, TerminalKind.KILL)
    }
  }
  const listening = subscribeAccessRevoked(ctx, (event) => {
    for (const link of [...links.values()]) {
      const { userId, machineId, sessionId } = link.terminal
      if (touches(event, { userId, machineId, sessionId: sessionId ?? undefined })) void recheck(link, event)
    }
  })
  void listening.then(
    (unlisten) => ctx.onClose(unlisten),
    (error) => ctx.log.error('terminal relay cannot hear revocations', { error }),
  )
  ctx.onClose(() => {
    for (const link of [...links.values()]) {
      links.delete(link.terminal.id)
      say(link, { type: 'waiting', code: 'restarting', reason: 'The server is restarting' })
      link.socket.close(1001, 'server shutting down')
    }
  })

  const relay: TerminalRelay = {
    attach(link) {
      const previous = links.get(link.terminal.id)
      links.set(link.terminal.id, link)
      if (previous) {
        say(previous, { type: 'closed', reason: 'The terminal was opened in another window' })
        previous.socket.close(CLOSE_TERMINAL_ENDED, 'opened elsewhere')
        void flushBytes(previous)
      }
      openOnAgent(link)
    },
    async detach(link) {
      if (links.get(link.terminal.id) === link) {
        links.delete(link.terminal.id)
        toAgent(link, TerminalKind.DETACH)
      }
      await flushBytes(link)
    },
    async close(terminal, actor, reason) {
      const link = links.get(terminal.id)
      if (link) {
        links.delete(terminal.id)
        say(link, { type: 'closed', reason })
      }
      try {
        if (link) await flushBytes(link)
        await closeTerminal(ctx, actor, terminal.id, reason)
      } finally {
        link?.socket.close(CLOSE_TERMINAL_ENDED, 'closed')
      }
      hub.terminalTo(terminal.machineId)?.(encodeTerminalMessage(TerminalKind.KILL, terminal.id))
    },
    fromBrowser(link, message) {
      if (links.get(link.terminal.id) !== link) return
      if (message instanceof Uint8Array) {
        link.bytesIn += message.length
        toAgent(link, TerminalKind.INPUT, message)
        return
      }
      const parsed =
        typeof message === 'string' ? readJsonPayload(new TextEncoder().encode(message)) : message
      if (!Value.Check(TerminalClientMessage, parsed)) return
      switch (parsed.type) {
        case 'resize':
          link.cols = parsed.cols
          link.rows = parsed.rows
          toAgent(link, TerminalKind.RESIZE, sizePayload(parsed.cols, parsed.rows))
          return
        case 'ack':
          toAgent(link, TerminalKind.ACK, offsetPayload(parsed.offset))
          return
        case 'kill':
          toAgent(link, TerminalKind.KILL)
          return
      }
    },
    fromAgent(machineId, data) {
      const message = decodeTerminalMessage(data)
      if (!message) return
      const link = links.get(message.terminalId)
      const mine = link && link.terminal.machineId === machineId ? link : undefined
      if (message.kind === TerminalKind.OUTPUT) {
        const output = readOffsetPayload(message.payload)
        if (!mine || !output) return
        mine.delivered = output.offset + output.bytes.length
        mine.bytesOut += output.bytes.length
        mine.socket.sendBinary(message.payload)
        return
      }
      if (message.kind !== TerminalKind.STATE) return
      const state = readJsonPayload(message.payload)
      if (!Value.Check(TerminalState, state)) return
      if (mine) {
        if (state.reset_at !== undefined) mine.delivered = state.reset_at
        say(mine, { type: 'state', ...state })
      }
      if (state.state === 'exited' || state.state === 'unavailable') {
        const reason = state.reason ?? 'The shell exited'
        if (mine) void end(mine, CLOSE_TERMINAL_ENDED, reason, SYSTEM_ACTOR)
        // Nobody watching (an idle timeout): the record is still closed, on this machine only.
        else void closeTerminal(ctx, SYSTEM_ACTOR, message.terminalId, reason, machineId)
      }
    },
  }
  return relay
}

/** The agent channel's terminal messages, from either transport (agents/frames.ts FrameReports.terminalBytes). */
export function relayTerminalBytes(ctx: AppContext, machineId: string, data: Uint8Array): void {
  ctx.state.terminalRelay.fromAgent(machineId, data)
}
