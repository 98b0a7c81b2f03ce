// Row counts of every table in the test database, to prove a refused request wrote nothing.
// The audit log is left out: refusals are audited on purpose.
import { sql } from 'drizzle-orm'
import type { TestServer } from '../support/server.ts'

/** Tables a refused request may legitimately write to. */
const WRITTEN_ON_REFUSAL = new Set(['audit_log', '__drizzle_migrations'])

function rowsOf(result: unknown): Record<string, unknown>[] {
  return Array.isArray(result) ? result : ((result as { rows: Record<string, unknown>[] }).rows ?? [])
}

export async function tableNames(server: TestServer): Promise<string[]> {
  const result = await server.ctx.db.execute(
    sql`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`,
  )
  return rowsOf(result)
    .map((r) => String(r.table_name))
    .filter((name) => !WRITTEN_ON_REFUSAL.has(name))
    .sort()
}

/** One query: `{ table: rows }` for every table given. */
export async function rowCounts(server: TestServer, tables: string[]): Promise<Record<string, number>> {
  const selects = tables.map((t) => `select '${t}' as t, count(*)::int as n from "${t}"`).join(' union all ')
  const result = await server.ctx.db.execute(sql.raw(selects))
  return Object.fromEntries(rowsOf(result).map((r) => [String(r.t), Number(r.n)]))
}
