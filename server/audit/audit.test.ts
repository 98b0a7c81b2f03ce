// The audit trail in names: each row keeps its actor's and target's names as written, so it still
// reads after they are deleted; actor/target filters match names; the CSV export carries the same
// rows (parsed back); and the server writes no event code the UI cannot word.
import { describe, expect, test } from 'bun:test'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'csv-parse/sync'
import { createUser, useTestServer } from '../../test/support/server.ts'
import { LOGIN_FAILED } from '../auth/throttle.ts'
import { REGISTER_EVENT } from '../machines/registration.ts'
import { OIDC_SIGN_IN_REFUSED } from '../oidc/index.ts'
import { AUDIT_EVENTS } from './events.ts'

const world = useTestServer()

interface Entry {
  event: string
  actor: { type: string; id: string | null; name: string | null }
  target: { type: string; id: string | null; name: string | null } | null
  details: Record<string, unknown>
}

async function entries(query: string): Promise<Entry[]> {
  const res = await world.server.request(`/api/audit?${query}`, { cookie: world.admin })
  expect(res.status).toBe(200)
  return ((await res.json()) as { entries: Entry[] }).entries
}

describe('audit in names', () => {
  test("a user's rows keep the user's name after the user is deleted", async () => {
    const user = await createUser(world.server, world.admin, 'carol-audit')
    const del = await world.server.request(`/api/users/${user.id}`, { method: 'DELETE', cookie: world.admin })
    expect(del.status).toBe(200)
    const rows = await entries(`target_type=user&target_id=${user.id}`)
    // createUser signs the new user in once: that row's actor is the user.
    expect(rows.map((r) => [r.event, r.actor.name]).sort()).toEqual([
      ['auth.login', 'carol-audit'],
      ['user.create', 'admin'],
      ['user.delete', 'admin'],
    ])
    for (const row of rows)
      expect(row.target).toEqual({ type: 'user', id: String(user.id), name: 'carol-audit' })
  })

  test('the actor and target filters match part of a name', async () => {
    await createUser(world.server, world.admin, 'dave-filter')
    const byTarget = await entries('target=VE-FIL')
    expect(byTarget.map((r) => [r.event, r.target?.name])).toEqual([
      ['auth.login', 'dave-filter'],
      ['user.create', 'dave-filter'],
    ])
    const byActor = await entries('actor=admi&event=user.create&target=dave')
    expect(byActor).toHaveLength(1)
    expect(await entries('actor=nobody-like-this')).toEqual([])
  })

  test('the CSV export has the same rows, names and readable details', async () => {
    const res = await world.server.request('/api/audit/export.csv?event=user.create&target=dave', {
      cookie: world.admin,
    })
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/csv; charset=utf-8')
    expect(res.headers.get('content-disposition')).toMatch(
      /^attachment; filename="audit-\d{4}-\d{2}-\d{2}\.csv"$/,
    )
    const rows = parse(await res.text(), { bom: true, columns: true }) as Record<string, string>[]
    expect(rows).toHaveLength(1)
    expect(rows[0]).toMatchObject({
      event: 'user.create',
      outcome: 'success',
      actor_name: 'admin',
      target_type: 'user',
      target_name: 'dave-filter',
    })
    expect(rows[0]!.details).toContain('username: dave-filter')
    const filtered = await world.server.request('/api/audit/export.csv?actor=nobody-like-this', {
      cookie: world.admin,
    })
    expect(parse(await filtered.text(), { bom: true, columns: true })).toEqual([])
  })

  test('only system admins may read or export', async () => {
    await createUser(world.server, world.admin, 'erin-plain')
    const erin = await world.server.login('erin-plain', 'erin-plain-password')
    expect((await world.server.request('/api/audit/export.csv', { cookie: erin })).status).toBe(403)
  })

  test('every event code the server writes is in AUDIT_EVENTS (the UI words each one)', () => {
    const known = new Set<string>(AUDIT_EVENTS)
    const root = join(import.meta.dir, '..')
    const written = new Set<string>([OIDC_SIGN_IN_REFUSED, LOGIN_FAILED, REGISTER_EVENT])
    const files = readdirSync(root, { recursive: true, encoding: 'utf8' }).filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    )
    for (const file of files) {
      const text = readFileSync(join(root, file), 'utf8')
      for (const m of text.matchAll(/audit\(\s*'([a-z_.]+)'/g)) written.add(m[1]!)
      for (const m of text.matchAll(/\bevent: '([a-z_]+\.[a-z_.]+)'/g)) written.add(m[1]!)
    }
    for (const action of ['stop', 'pause', 'resume', 'abort']) written.add(`session.${action}`)
    for (const op of ['revert_file', 'revert_hunk', 'stage', 'commit']) written.add(`session.changes.${op}`)
    expect(written.size).toBeGreaterThan(40)
    expect([...written].filter((e) => !known.has(e))).toEqual([])
  })
})
