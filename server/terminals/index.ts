// /api/remote/terminals: open (or find) the caller's terminal on a machine or beside a session,
// look it up, end it; the machine setting saying who may open one; and the browser WebSocket.
import { Elysia } from 'elysia'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { MachineIdParams } from '../machines/model.ts'
import {
  ClosedTerminalAnswer,
  OpenTerminalBody,
  TerminalAccessAnswer,
  TerminalAccessBody,
  TerminalAnswer,
  TerminalIdParams,
} from './model.ts'
import { openTerminal, ownTerminal, setTerminalAccess, terminalView } from './service.ts'
import { terminalSocketRoutes } from './socket.ts'

export function terminalsRoutes(ctx: AppContext) {
  // The relay (and its access.revoked subscription) starts with the routes.
  void ctx.state.terminalRelay
  return new Elysia({ name: 'terminals', seed: ctx.id })
    .use(authGuard(ctx))
    .post(
      '/api/remote/terminals',
      async ({ actor, user, body, set }) => {
        const result = await openTerminal(ctx, actor, user, {
          machineId: body.machine_id,
          sessionId: body.session_id,
        })
        set.status = result.created ? 201 : 200
        return { terminal: result.terminal }
      },
      {
        auth: true,
        body: OpenTerminalBody,
        response: { 200: TerminalAnswer, 201: TerminalAnswer },
        detail: { summary: 'Open a terminal, or find the one already open' },
      },
    )
    .get(
      '/api/remote/terminals/:id',
      async ({ user, params }) => ({ terminal: terminalView(await ownTerminal(ctx, user, params.id)) }),
      {
        auth: true,
        params: TerminalIdParams,
        response: { 200: TerminalAnswer },
        detail: { summary: 'One of the caller’s terminals' },
      },
    )
    .delete(
      '/api/remote/terminals/:id',
      async ({ actor, user, params }) => {
        const terminal = await ownTerminal(ctx, user, params.id)
        await ctx.state.terminalRelay.close(terminal, actor, 'Closed by the user')
        return { terminal_id: terminal.id, closed: true as const }
      },
      {
        auth: true,
        params: TerminalIdParams,
        response: { 200: ClosedTerminalAnswer },
        detail: { summary: 'End a terminal and its shell' },
      },
    )
    .put(
      '/api/remote/machines/:id/terminal-access',
      ({ actor, user, params, body }) => setTerminalAccess(ctx, actor, user, params.id, body.terminal_access),
      {
        auth: true,
        params: MachineIdParams,
        body: TerminalAccessBody,
        response: { 200: TerminalAccessAnswer },
        detail: { summary: 'Who may open terminals on the machine (admins, or all assigned users)' },
      },
    )
    .use(terminalSocketRoutes(ctx))
}
