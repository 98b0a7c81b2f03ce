// The browser's terminal WebSocket (GET /api/remote/terminals/:id/ws): Bun's WebSocket server
// through Elysia's .ws(), so it sits in this one module; elsewhere the route answers 501. The
// session cookie, the Origin (no cross-site socket hijacking) and terminal access are checked
// before the upgrade.
import { Elysia } from 'elysia'
import { TerminalServerMessage, terminalSocketPath } from '../../protocol/index.ts'
import { authenticate } from '../auth/guard.ts'
import { SESSION_COOKIE } from '../auth/service.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { publicBaseUrl } from '../http/public-url.ts'
import { documented } from '../http/schema.ts'
import { TerminalIdParams, TerminalSocketQuery } from './model.ts'
import type { BrowserLink } from './relay.ts'
import { ownTerminal } from './service.ts'

const webSocketSupported = typeof (globalThis as { Bun?: unknown }).Bun !== 'undefined'
const DEFAULT_COLS = 80
const DEFAULT_ROWS = 24

interface RawSocket {
  send(data: string | Uint8Array): number
  close(code?: number, reason?: string): void
}

export function terminalSocketRoutes(ctx: AppContext) {
  const plugin = new Elysia({ name: 'terminals.ws', seed: ctx.id })
  const path = terminalSocketPath(':id')
  if (!webSocketSupported) {
    return plugin.get(path, () => {
      throw new HttpError(501, 'Terminals need the server to run on Bun', 'not_implemented')
    })
  }
  const relay = ctx.state.terminalRelay
  const links = new WeakMap<object, BrowserLink>()
  return plugin
    .resolve(async ({ request, server, cookie, params }) => {
      const origin = request.headers.get('origin')
      if (origin && origin !== new URL(publicBaseUrl(ctx.config, request)).origin)
        throw new HttpError(403, 'Cross-site request refused', 'csrf_rejected')
      const auth = await authenticate(ctx, request, server, cookie[SESSION_COOKIE]?.value, true)
      const sessionToken = auth.sessionToken
      if (!sessionToken)
        throw new HttpError(401, 'Terminals need a signed-in browser session', 'unauthorized')
      const terminal = await ownTerminal(ctx, auth.user, (params as { id: string }).id)
      if (terminal.status !== 'open') throw new HttpError(410, 'This terminal has ended', 'terminal_closed')
      return { auth, sessionToken, terminal }
    })
    .ws(path, {
      params: TerminalIdParams,
      query: TerminalSocketQuery,
      // A socket is described in the OpenAPI document, never checked as a value.
      detail: {
        summary: 'A terminal in the browser (WebSocket, login cookie): keystrokes in, terminal bytes out',
        responses: documented(
          101,
          'Switching Protocols: the server then sends binary terminal output and JSON text messages (state, errors)',
          { 'application/json': TerminalServerMessage },
        ),
      },
      open(ws) {
        const raw = ws.raw as unknown as RawSocket
        const { auth, terminal } = ws.data
        const link: BrowserLink = {
          terminal,
          user: auth.user,
          sessionToken: ws.data.sessionToken,
          actor: auth.actor,
          cols: ws.data.query.cols ?? DEFAULT_COLS,
          rows: ws.data.query.rows ?? DEFAULT_ROWS,
          delivered: ws.data.query.offset ?? 0,
          bytesIn: 0,
          bytesOut: 0,
          socket: {
            sendBinary: (data) => raw.send(data),
            sendText: (text) => raw.send(text),
            close: (code, reason) => raw.close(code, reason),
          },
        }
        links.set(raw, link)
        relay.attach(link)
      },
      message(ws, message) {
        const link = links.get(ws.raw as object)
        if (link) relay.fromBrowser(link, message)
      },
      close(ws) {
        const link = links.get(ws.raw as object)
        if (!link) return
        links.delete(ws.raw as object)
        void relay.detach(link).catch((error) => ctx.log.warn('terminal detach failed', { error }))
      },
    })
}
