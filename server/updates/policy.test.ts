// The self-update decision and update windows, as pure functions.
import { describe, expect, test } from 'bun:test'
import { inUpdateWindow } from '../machines/update-window.ts'
import { decideUpdate, type UpdateFacts, type UpdateMachineFacts } from './policy.ts'
import { parseChecksums } from './release.ts'

const SHA = 'c'.repeat(64)
const release = { version: '2.0.0', sums: new Map([['open-ace-agent-linux-x64', SHA]]) }
const machine = (over: Partial<UpdateMachineFacts> = {}): UpdateMachineFacts => ({
  agentVersion: '1.0.0',
  capabilities: { update_target: 'linux-x64' },
  status: 'online',
  connected: true,
  updateState: null,
  updateVersion: null,
  updateRequested: false,
  updateForce: false,
  updateWindow: null,
  autoUpdate: null,
  ...over,
})
const facts = (over: Partial<UpdateFacts> & { m?: Partial<UpdateMachineFacts> } = {}): UpdateFacts => ({
  release,
  machine: machine(over.m),
  liveSessions: 0,
  defaults: { auto: true, window: undefined },
  now: new Date('2026-12-02T03:30:00Z'),
  ...over,
})

describe('update windows (UTC)', () => {
  const at = (hhmm: string) => new Date(`2026-12-02T${hhmm}:00Z`)
  test('inside, at the start, not at the end', () => {
    expect(inUpdateWindow('02:00-05:00', at('03:30'))).toBe(true)
    expect(inUpdateWindow('02:00-05:00', at('02:00'))).toBe(true)
    expect(inUpdateWindow('02:00-05:00', at('05:00'))).toBe(false)
    expect(inUpdateWindow('02:00-05:00', at('12:00'))).toBe(false)
  })
  test('a window may wrap past midnight; equal ends are the whole day; none is always', () => {
    expect(inUpdateWindow('22:00-04:00', at('23:15'))).toBe(true)
    expect(inUpdateWindow('22:00-04:00', at('01:00'))).toBe(true)
    expect(inUpdateWindow('22:00-04:00', at('12:00'))).toBe(false)
    expect(inUpdateWindow('06:00-06:00', at('12:00'))).toBe(true)
    expect(inUpdateWindow(null, at('12:00'))).toBe(true)
  })
})

describe('decideUpdate', () => {
  test('an idle online machine on another version gets the binary of its target, not forced', () => {
    expect(decideUpdate(facts())).toEqual({
      send: {
        version: '2.0.0',
        url: '/api/remote/agent/files/open-ace-agent-linux-x64',
        sha256: SHA,
        force: false,
      },
    })
  })

  test('nothing to send: no build, current, cannot update itself, no binary for its target', () => {
    expect(decideUpdate(facts({ release: null }))).toEqual({ skip: 'not_built' })
    expect(decideUpdate(facts({ m: { agentVersion: '2.0.0' } }))).toEqual({ skip: 'current' })
    expect(decideUpdate(facts({ m: { capabilities: {} } }))).toEqual({ skip: 'unsupported' })
    expect(decideUpdate(facts({ m: { capabilities: { update_target: 'darwin-arm64' } } }))).toEqual({
      skip: 'no_binary',
    })
  })

  test('live sessions hold it back unless an admin forced it', () => {
    expect(decideUpdate(facts({ liveSessions: 1 }))).toEqual({ wait: 'sessions' })
    expect(decideUpdate(facts({ liveSessions: 1, m: { updateRequested: true } }))).toEqual({
      wait: 'sessions',
    })
    const forced = decideUpdate(facts({ liveSessions: 2, m: { updateRequested: true, updateForce: true } }))
    expect('send' in forced && forced.send.force).toBe(true)
  })

  test('automatic offers respect the switch, the window and an earlier failure; a request overrides them', () => {
    const requested = { updateRequested: true }
    expect(decideUpdate(facts({ defaults: { auto: false, window: undefined } }))).toEqual({
      skip: 'auto_off',
    })
    expect(decideUpdate(facts({ m: { autoUpdate: false } }))).toEqual({ skip: 'auto_off' })
    expect(
      'send' in
        decideUpdate(facts({ defaults: { auto: false, window: undefined }, m: { autoUpdate: true } })),
    ).toBe(true)
    expect(decideUpdate(facts({ m: { updateWindow: '10:00-11:00' } }))).toEqual({ skip: 'outside_window' })
    expect(decideUpdate(facts({ defaults: { auto: true, window: '10:00-11:00' } }))).toEqual({
      skip: 'outside_window',
    })
    const failed = { updateState: 'rolled_back' as const, updateVersion: '2.0.0' }
    expect(decideUpdate(facts({ m: failed }))).toEqual({ skip: 'failed_before' })
    // A failure of an older version does not block a newer one.
    expect('send' in decideUpdate(facts({ m: { ...failed, updateVersion: '1.5.0' } }))).toBe(true)
    for (const m of [{ autoUpdate: false }, { updateWindow: '10:00-11:00' }, failed])
      expect('send' in decideUpdate(facts({ m: { ...m, ...requested } }))).toBe(true)
  })

  test('an update in flight is not sent again, unless a forced request meets an agent still waiting', () => {
    const waiting = { updateState: 'waiting' as const, updateVersion: '2.0.0' }
    expect(decideUpdate(facts({ m: { updateState: 'sent', updateVersion: '2.0.0' } }))).toEqual({
      skip: 'in_flight',
    })
    expect(decideUpdate(facts({ m: waiting, liveSessions: 1 }))).toEqual({ skip: 'in_flight' })
    const forced = decideUpdate(
      facts({ m: { ...waiting, updateRequested: true, updateForce: true }, liveSessions: 1 }),
    )
    expect('send' in forced && forced.send.force).toBe(true)
  })

  test('an offline machine waits', () => {
    expect(decideUpdate(facts({ m: { status: 'offline', connected: false } }))).toEqual({ wait: 'offline' })
  })
})

test('SHA256SUMS lines are read as `sum  name` (binary mode `*name` too); others are ignored', () => {
  const sums = parseChecksums(
    `${'a'.repeat(64)}  open-ace-agent-linux-x64\n${'b'.repeat(64)} *x.exe\nnot a line\n`,
  )
  expect([...sums]).toEqual([
    ['open-ace-agent-linux-x64', 'a'.repeat(64)],
    ['x.exe', 'b'.repeat(64)],
  ])
})
