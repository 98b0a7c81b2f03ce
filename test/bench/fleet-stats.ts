// Measuring helpers of the fleet benchmark (test/bench/fleet.ts): a process's CPU time and RSS
// from /proc, percentiles, the server's /metrics figures, and the printed table.
import { readFileSync } from 'node:fs'
import { parseExposition, sampleValue } from '../support/prometheus.ts'

const CLOCK_TICKS = 100

/** The printed table's columns, in the order fleet.ts fills them. */
export const COLUMNS = [
  'N',
  'connected ws/lp',
  'RSS',
  'per agent',
  'deliv p50/p99 quiet',
  'deliv p50/p99 streaming',
  'server queue->send quiet',
  'cmds ok/fail',
  'hb/s',
  'hb CPU',
  'µs/hb',
  'hb writes/s',
  'rows/write',
  'output rec/s',
  'CPU streaming',
]

/** utime + stime of a process, in seconds. */
export const procCpuSeconds = (pid: number) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS // utime + stime, seconds
}
export const rssBytes = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) * 1024
export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : Number.NaN
}
/** The upper bound of the bucket holding quantile q of what the histogram observed between two reads. */
export function bucketQuantile(
  before: Array<{ le: number; count: number }>,
  after: Array<{ le: number; count: number }>,
  q: number,
) {
  const counts = after.map((b, i) => ({ le: b.le, count: b.count - (before[i]?.count ?? 0) }))
  const total = counts[counts.length - 1]?.count ?? 0
  const hit = counts.find((b) => b.count >= q * total)
  return total && hit ? `≤${hit.le * 1000}` : '-'
}
export const mib = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MiB`

/** The server's heartbeat, delivery and connection figures from GET /metrics. */
export async function readMetrics(url: string, cookie: string) {
  const samples = parseExposition(await (await fetch(`${url}/metrics`, { headers: { cookie } })).text())
  const value = (name: string, labels?: Record<string, string>) => sampleValue(samples, name, labels) ?? 0
  return {
    heartbeats: value('openace_agent_heartbeats_total'),
    flushes: value('openace_db_heartbeat_flushes_total'),
    rows: value('openace_db_heartbeat_rows_total'),
    delivery: samples
      .filter((x) => x.name === 'openace_agent_command_delivery_seconds_bucket')
      .map((x) => ({
        le: Number(x.labels.le === '+Inf' ? Number.POSITIVE_INFINITY : x.labels.le),
        count: x.value,
      })),
    websocket: value('openace_agent_connections', { transport: 'websocket' }),
    longPoll: value('openace_agent_connections', { transport: 'long_poll' }),
  }
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(widths[i]!)).join('  ')
  return [line(header), ...rows.map(line)].join('\n')
}
