// The app context's per-server state: each slot is made once per instance on first use (two
// instances on one database never share one), and ctx.close() ends what the slots started,
// including what a late caller starts after close.
import { afterEach, describe, expect, test } from 'bun:test'
import { openTestDatabase } from '../../test/support/database.ts'
import { waitUntil } from '../../test/support/wait-until.ts'
import { publishAccessRevoked, subscribeAccessRevoked } from '../access/events.ts'
import { loadConfig } from '../config.ts'
import type { Database } from '../db/index.ts'
import { createLogger } from '../log.ts'
import { type AppContext, createContext } from './index.ts'

let database: Database | undefined
const contexts: AppContext[] = []

afterEach(async () => {
  for (const ctx of contexts.splice(0)) await ctx.close()
  await database?.close()
  database = undefined
})

async function twoContexts() {
  database = await openTestDatabase()
  const config = loadConfig({ SECRET_KEY: 'x'.repeat(32) }, { warn: () => {} })
  const make = () =>
    createContext(
      config,
      database!,
      createLogger('error', () => {}),
    )
  contexts.push(make(), make())
  return contexts as [AppContext, AppContext]
}

/** Whether the slot has been made (reading it would make it). */
const made = (ctx: AppContext, slot: keyof AppContext['state']) => ctx.peek(slot) !== undefined

describe('per-server state', () => {
  test('a slot is made on first use, kept, and never shared between instances', async () => {
    const [a, b] = await twoContexts()
    expect(made(a, 'metrics')).toBe(false)
    const first = a.state.metrics
    expect(made(a, 'metrics')).toBe(true)
    expect(a.state.metrics).toBe(first)
    expect(made(b, 'metrics')).toBe(false)
    expect(b.state.metrics).not.toBe(first)
    a.state.metrics.heartbeats.inc()
    expect(b.state.metrics.heartbeats.value()).toBe(0)
  })

  test('every slot can be made, and all of them are listed in the one type', async () => {
    const [a] = await twoContexts()
    const slots = Object.keys(a.state) as Array<keyof AppContext['state']>
    expect(slots.length).toBeGreaterThan(3)
    for (const slot of slots) expect(a.state[slot]).toBeDefined()
    for (const slot of slots) expect(made(a, slot)).toBe(true)
  })

  test('close ends the LISTENs the slots opened; a hook added after close runs at once', async () => {
    const [closing, witness] = await twoContexts()
    const heard: string[] = []
    await subscribeAccessRevoked(closing, (e) => heard.push(`closing:${e.reason}`))
    await subscribeAccessRevoked(witness, (e) => heard.push(`witness:${e.reason}`))
    await publishAccessRevoked(witness, 'logout', { user_id: 1 })
    await waitUntil(() => heard.length === 2, { what: 'both instances heard the first notice' })

    await closing.close()
    await publishAccessRevoked(witness, 'unassigned', { user_id: 1 })
    await waitUntil(() => heard.includes('witness:unassigned'), {
      what: 'the open instance heard the second notice',
    })
    expect(heard.filter((h) => h.startsWith('closing:'))).toEqual(['closing:logout'])

    let ran = false
    closing.onClose(() => {
      ran = true
    })
    await waitUntil(() => ran, { what: 'a hook added after close ran' })
  })
})
