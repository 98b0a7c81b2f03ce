// Web terminals with the compiled agent binary and a real server process: a shell in the
// machine's work dir, echo and resize, a reload and a server restart reattaching to the same
// shell and screen, the machine setting refusing plain users (and closing their open terminal when
// narrowed), and revocation closing it at once with the reason code. All of it twice: with the
// agent on its WebSocket, and on long-poll (its terminal bytes in the poll batches).
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import type { Subprocess } from 'bun'
import {
  adminCookie,
  ensureAgentBinary,
  machineOnline,
  type RunningAgent,
  startAgentBinary,
} from '../support/agent-binary.ts'
import { browserApi, reply } from '../support/client.ts'
import { type ServerProcess, serverEnv, spawnServer } from '../support/process.ts'
import { openTerminalSocket, type TerminalClient } from '../support/terminal-client.ts'
import { waitUntil } from '../support/wait-until.ts'

function terminalSuite(transport: 'websocket' | 'long-poll') {
  // Each transport's own server and agent, set up and ended within its block.
  describe(`agent on ${transport}`, () => {
    const servers: ServerProcess[] = []
    const agents: Subprocess[] = []
    const clients: TerminalClient[] = []
    let env: Record<string, string>
    let server: ServerProcess
    let cookie: string
    let agent: RunningAgent

    beforeAll(async () => {
      await ensureAgentBinary()
      env = await serverEnv({ AGENT_HEARTBEAT_INTERVAL_SECONDS: '1', AGENT_OFFLINE_GRACE_MS: '500' })
      server = await spawnServer({ env })
      servers.push(server)
      cookie = await adminCookie(server.url)
      agent = await startAgentBinary({
        serverUrl: server.url,
        cookie,
        track: agents,
        env: {
          OPENACE_RECONNECT_BASE_DELAY: '0.2',
          OPENACE_RECONNECT_MAX_DELAY: '1',
          SHELL: '/bin/bash',
          OPENACE_AGENT_TRANSPORT: transport,
        },
      })
      await waitUntil(onTransport(), { what: `online over ${transport}`, timeoutMs: 15_000 })
    }, 120_000)

    afterAll(async () => {
      for (const c of clients) c.close()
      for (const a of agents) if (a.exitCode === null) a.kill('SIGKILL')
      for (const s of servers) await s.stop('SIGKILL')
    })

    /** The machine online over the suite's transport (as the server names it). */
    function onTransport() {
      const online = machineOnline(server.url, cookie, agent.machineId)
      const wanted = transport === 'websocket' ? 'websocket' : 'long_poll'
      return async () => ((await online())?.transport === wanted ? true : undefined)
    }

    /** The typed client as the holder of `c` (the admin by default), with the browser's Origin. */
    const as = (c = cookie) => browserApi(server.url, c)

    async function openTerminal(c = cookie) {
      return as(c).remote.terminals.post({ machine_id: agent.machineId })
    }

    async function connect(terminalId: string, c = cookie, options = {}) {
      const client = await openTerminalSocket(server.url, c, terminalId, options)
      clients.push(client)
      return client
    }

    describe('web terminal end to end', () => {
      let terminalId: string

      test('opens a shell in the work dir; echo and resize show up', async () => {
        const opened = await openTerminal()
        expect(opened.status).toBe(201)
        terminalId = opened.data!.terminal.terminal_id
        const term = await connect(terminalId)
        term.type('echo "hello-$((6*7))"; pwd\r')
        await term.waitFor('hello-42')
        await term.waitFor(`${agent.dir}/work`)
        // The shell runs in the same sandbox as the user's sessions: the agent's directory is hidden.
        const { data } = await as().remote.machines({ id: agent.machineId }).get()
        expect(data!.machine.isolation.level).toBe('sandbox')
        term.type(`test -e ${agent.dir}/config.json && echo visible-$((1+1)) || echo hidden-$((2+2))\r`)
        await term.waitFor(/(visible-2|hidden-4)\r\n/)
        expect(term.text()).toContain('hidden-4\r\n')
        term.type('export MARK=kept-$((1+1))\r')
        term.resize(101, 33)
        term.type('stty size\r')
        await term.waitFor('33 101')
        term.close()
      }, 30_000)

      test('a reload reattaches to the same shell and shows the old screen', async () => {
        const again = await openTerminal()
        expect(again.status).toBe(200)
        expect(again.data!.terminal.terminal_id).toBe(terminalId)
        const term = await connect(terminalId)
        await term.waitFor('hello-42')
        term.type('echo "mark=$MARK"\r')
        await term.waitFor('mark=kept-2')
        term.close()
      }, 30_000)

      test('the server killed and restarted: the same shell with its screen comes back', async () => {
        await server.stop('SIGKILL')
        server = await spawnServer({ env, port: server.port })
        servers.push(server)
        cookie = await adminCookie(server.url)
        // On its own transport again (an agent in auto mode may be on long-poll briefly after the restart).
        await waitUntil(onTransport(), { what: `online over ${transport} again`, timeoutMs: 15_000 })
        const again = await openTerminal()
        expect(again.data!.terminal.terminal_id).toBe(terminalId)
        const term = await connect(terminalId)
        await term.waitFor('mark=kept-2')
        term.type('echo "after-restart $MARK"\r')
        await term.waitFor('after-restart kept-2')
        term.close()
      }, 60_000)

      test('a plain user is refused unless the machine allows all users; revocation closes it at once', async () => {
        const created = await as().users.post({
          username: 'termuser',
          password: 'termuser-password',
          role: 'user',
        })
        expect(created.status).toBe(201)
        const userId = created.data!.user.id
        const machineAsAdmin = as().remote.machines({ id: agent.machineId })
        expect((await machineAsAdmin.assign.post({ user_id: userId, permission: 'user' })).status).toBe(200)
        const login = await fetch(`${server.url}/api/auth/login`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'termuser', password: 'termuser-password' }),
        })
        const userCookie = login.headers
          .getSetCookie()
          .map((c) => c.split(';')[0])
          .join('; ')

        // reply(): the refusal's error body, whose shape the App type does not name.
        const refused = await reply(openTerminal(userCookie))
        expect(refused.status).toBe(403)
        expect(refused.body.error?.message).toContain('administrators only')

        const setAccess = (terminal_access: 'admins' | 'assigned') =>
          machineAsAdmin['terminal-access'].put({ terminal_access })
        expect((await setAccess('assigned')).status).toBe(200)
        const machine = await as(userCookie).remote.machines({ id: agent.machineId }).get()
        expect(machine.data!.machine.terminal_access).toBe('assigned')
        const opened = await openTerminal(userCookie)
        expect(opened.status).toBe(201)
        const userTerminal = opened.data!.terminal.terminal_id
        // Someone else's terminal is not found, for anyone.
        expect((await as().remote.terminals({ id: userTerminal }).get()).status).toBe(404)
        const first = await connect(userTerminal, userCookie)
        first.type('echo user-shell-ok\r')
        await first.waitFor('user-shell-ok')

        // The machine narrowed to admins: the plain user's open terminal closes, saying why.
        expect((await setAccess('admins')).status).toBe(200)
        expect((await first.closed).code).toBe(4103)
        expect(first.messages.at(-1)).toMatchObject({ type: 'closed', revoked: 'role_changed' })
        expect((await setAccess('assigned')).status).toBe(200)
        const reopened = await openTerminal(userCookie)
        expect(reopened.status).toBe(201)
        const secondTerminal = reopened.data!.terminal.terminal_id
        const term = await connect(secondTerminal, userCookie)
        term.type('echo user-shell-again\r')
        await term.waitFor('user-shell-again')

        const revokedAt = Date.now()
        const unassign = await machineAsAdmin.assign({ user_id: userId }).delete()
        expect(unassign.status).toBe(200)
        const closed = await term.closed
        expect(Date.now() - revokedAt).toBeLessThan(3000)
        expect(closed.code).toBe(4103)
        expect(term.messages.at(-1)).toMatchObject({ type: 'closed', revoked: 'unassigned' })
        expect((await openTerminal(userCookie)).status).toBe(403)

        const audit = await as().audit.get({ query: { target_id: userTerminal } })
        const events = audit.data!.entries
        const close = events.find((e) => e.event === 'terminal.close')
        expect(events.some((e) => e.event === 'terminal.open')).toBe(true)
        expect(close?.details.bytes_in).toBeGreaterThan(0)
        expect(close?.details.bytes_out).toBeGreaterThan(0)
        expect(JSON.stringify(events)).not.toContain('user-shell-ok')
      }, 60_000)

      test('closing a terminal ends it; a closed one cannot be attached', async () => {
        const terminal = as().remote.terminals({ id: terminalId })
        const closed = await terminal.delete()
        expect(closed.status).toBe(200)
        const row = await terminal.get()
        expect(row.data!.terminal.status).toBe('closed')
        await expect(openTerminalSocket(server.url, cookie, terminalId)).rejects.toThrow()
        const next = await openTerminal()
        expect(next.status).toBe(201)
      }, 30_000)
    })
  })
}

terminalSuite('websocket')
terminalSuite('long-poll')
