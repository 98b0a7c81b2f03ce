// A machine's recent load for its page's charts: each heartbeat flush appends one sample (the
// latest heartbeat's CPU, memory and disk) to remote_machines.load_history and keeps the last
// LOAD_HISTORY_SAMPLES, inside the flush's one UPDATE, so history costs no extra write and every
// server instance reads the same history.
import { type SQL, sql } from 'drizzle-orm'
import type { SystemInfo } from '../../protocol/index.ts'
import type { LoadSample } from '../db/schema/index.ts'

/** Samples kept per machine: at the default 30 s heartbeat, the last half hour. */
export const LOAD_HISTORY_SAMPLES = 60

const num = (value: unknown): number | null =>
  typeof value === 'number' && Number.isFinite(value) ? value : null

/** The sample a heartbeat's system_info gives, or null when it carries no load at all. */
export function loadSample(info: SystemInfo | undefined, at: Date): LoadSample | null {
  if (!info) return null
  const total = num(info.memory_gb)
  const free = num(info.memory_free_gb)
  const sample: LoadSample = {
    at: at.toISOString(),
    cpu_percent: num(info.cpu_percent),
    memory_percent: total && free !== null ? Math.round(((total - free) / total) * 1000) / 10 : null,
    disk_free_gb: num(info.disk_free_gb),
    disk_total_gb: num(info.disk_total_gb),
  }
  const { at: _at, ...values } = sample
  return Object.values(values).some((v) => v !== null) ? sample : null
}

/** The new load_history: `history` with `sample` (jsonb or null) appended, the oldest dropped. */
export function appendedLoadHistory(history: SQL, sample: SQL): SQL {
  return sql`case when ${sample} is null then ${history} else (
    select coalesce(jsonb_agg(kept.e order by kept.n), '[]'::jsonb) from (
      select e, n from jsonb_array_elements(${history} || jsonb_build_array(${sample})) with ordinality as t(e, n)
      order by n desc limit ${sql.raw(String(LOAD_HISTORY_SAMPLES))}
    ) as kept
  ) end`
}
