import { describe, expect, test } from 'bun:test'
import {
  decodeTerminalMessage,
  encodeTerminalMessage,
  jsonPayload,
  offsetPayload,
  readJsonPayload,
  readOffsetPayload,
  TERMINAL_WINDOW_BYTES,
  TerminalKind,
} from '../../protocol/index.ts'
import { createAgentLogger } from '../log.ts'
import type { PtyOptions, SpawnPty } from './pty.ts'
import { TerminalHost } from './terminal-host.ts'

function setup(idleMs = 60_000, scrollbackBytes = 4 * TERMINAL_WINDOW_BYTES) {
  const ptys: { options: PtyOptions; killed: boolean; finish: (code: number) => void }[] = []
  const spawnPty: SpawnPty = (_argv, options) => {
    let finish!: (code: number) => void
    const exited = new Promise<number | null>((r) => {
      finish = r
    })
    const entry = { options, killed: false, finish }
    ptys.push(entry)
    return {
      pid: 1,
      write: () => {},
      resize: () => {},
      kill: () => {
        entry.killed = true
        finish(0)
      },
      exited,
    }
  }
  const sent: Uint8Array[] = []
  const host = new TerminalHost({
    spawnPty,
    unavailableReason: null,
    log: createAgentLogger({ level: 'error' }),
    idleMs,
    command: (_id, open) => ({ argv: ['sh'], env: {}, cwd: open.cwd }),
    resolveCwd: async (p) => p,
    scrollbackBytes,
  })
  host.setSink((d) => sent.push(d))
  const open = (offset = 0) =>
    host.handle(
      decodeTerminalMessage(
        encodeTerminalMessage(
          TerminalKind.OPEN,
          't1',
          jsonPayload({ cols: 80, rows: 24, cwd: '/tmp', offset, user_id: 1 }),
        ),
      )!,
    )
  const outputBytes = () =>
    sent
      .map((d) => decodeTerminalMessage(d)!)
      .filter((m) => m.kind === TerminalKind.OUTPUT)
      .reduce((n, m) => n + readOffsetPayload(m.payload)!.bytes.length, 0)
  const states = () =>
    sent
      .map((d) => decodeTerminalMessage(d)!)
      .filter((m) => m.kind === TerminalKind.STATE)
      .map((m) => readJsonPayload(m.payload) as { state: string; reset_at?: number })
  const ack = (offset: number) =>
    host.handle(decodeTerminalMessage(encodeTerminalMessage(TerminalKind.ACK, 't1', offsetPayload(offset)))!)
  return { host, ptys, sent, open, outputBytes, states, ack }
}

const tick = () => Bun.sleep(5)

describe('TerminalHost', () => {
  test('sends no more than the window ahead of what the browser acknowledged', async () => {
    const t = setup()
    t.open()
    await tick()
    const pty = t.ptys[0]!
    for (let i = 0; i < 40; i++) pty.options.onData(new Uint8Array(64 * 1024))
    expect(t.outputBytes()).toBe(TERMINAL_WINDOW_BYTES)
    t.ack(TERMINAL_WINDOW_BYTES)
    expect(t.outputBytes()).toBe(2 * TERMINAL_WINDOW_BYTES)
  })

  test('a reader that fell behind the scrollback is told to redraw from its oldest byte', async () => {
    const t = setup(60_000, TERMINAL_WINDOW_BYTES)
    t.open()
    await tick()
    for (let i = 0; i < 40; i++) t.ptys[0]!.options.onData(new Uint8Array(64 * 1024))
    t.ack(TERMINAL_WINDOW_BYTES)
    const reset = t.states().find((s) => s.reset_at !== undefined && s.reset_at > 0)
    expect(reset?.reset_at).toBe(40 * 64 * 1024 - TERMINAL_WINDOW_BYTES)
  })

  test('a reattach replays the scrollback; a detached shell ends after the idle timeout', async () => {
    const t = setup(50)
    t.open()
    await tick()
    t.ptys[0]!.options.onData(new TextEncoder().encode('hello'))
    t.host.setSink(null)
    t.sent.length = 0
    t.host.setSink((d) => t.sent.push(d))
    t.open(0)
    expect(t.states()[0]).toMatchObject({ state: 'running', reset_at: 0 })
    expect(t.outputBytes()).toBe(5)
    expect(t.ptys.length).toBe(1)
    t.host.setSink(null)
    await Bun.sleep(120)
    expect(t.ptys[0]!.killed).toBe(true)
    expect(t.host.count).toBe(0)
  })
})
