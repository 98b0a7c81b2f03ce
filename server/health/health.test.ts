// Liveness and readiness: /api/ready answers 200 only while the database answers and holds
// every migration this build ships; a missing migration row (or table) turns it into 503.
import { afterAll, beforeAll, describe, expect, test } from 'bun:test'
import { sql } from 'drizzle-orm'
import { startTestServer, type TestServer } from '../../test/support/server.ts'

let server: TestServer

beforeAll(async () => {
  server = await startTestServer()
}, 60_000)
afterAll(async () => {
  await server.stop()
}, 60_000)

const errorOf = async (res: Response) =>
  ((await res.json()) as { error: { message: string; type: string } }).error

describe('health and readiness', () => {
  test('liveness answers', async () => {
    const res = await server.request('/api/health')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({ status: 'ok' })
  })

  test('ready while the database answers and every migration is applied', async () => {
    const res = await server.request('/api/ready')
    expect(res.status).toBe(200)
    expect(await res.json()).toEqual({
      status: 'ready',
      database: server.database.kind,
      migrations: 'applied',
    })
  })

  test('a deleted migration row makes the server unready with a clear error', async () => {
    const db = server.ctx.db
    const rows = await db.execute(sql`select id, hash, created_at from drizzle.__drizzle_migrations`)
    const saved = (Array.isArray(rows) ? rows : (rows as { rows: unknown[] }).rows) as Array<{
      id: number
      hash: string
      created_at: string
    }>
    expect(saved.length).toBeGreaterThan(0)
    const victim = saved[0]!
    await db.execute(sql`delete from drizzle.__drizzle_migrations where id = ${victim.id}`)
    try {
      const res = await server.request('/api/ready')
      expect(res.status).toBe(503)
      const error = await errorOf(res)
      expect(error.type).toBe('migrations_pending')
      expect(error.message).toContain('not applied')
      // Liveness is about the process, not the schema.
      expect((await server.request('/api/health')).status).toBe(200)
    } finally {
      await db.execute(
        sql`insert into drizzle.__drizzle_migrations (id, hash, created_at) values (${victim.id}, ${victim.hash}, ${victim.created_at})`,
      )
    }
    expect((await server.request('/api/ready')).status).toBe(200)
  })

  test('a missing migrations table is reported too', async () => {
    const db = server.ctx.db
    await db.execute(sql`alter table drizzle.__drizzle_migrations rename to __drizzle_migrations_moved`)
    try {
      const res = await server.request('/api/ready')
      expect(res.status).toBe(503)
      expect((await errorOf(res)).message).toContain('migrations table is missing')
    } finally {
      await db.execute(sql`alter table drizzle.__drizzle_migrations_moved rename to __drizzle_migrations`)
    }
    expect((await server.request('/api/ready')).status).toBe(200)
  })
})
