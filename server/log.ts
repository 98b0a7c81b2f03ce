// Structured JSON-lines logger. Every field passes through redaction so a password, token,
// key or cookie can never reach a log line, whatever a caller hands it.
import type { LogLevel } from './config.ts'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }
const SECRET_FIELD = /pass(word)?|secret|token|api[-_]?key|authorization|cookie|credential|private/i
const REDACTED = '[redacted]'

export type LogFields = Record<string, unknown>
export type LogSink = (line: string) => void

export interface Logger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  child(fields: LogFields): Logger
}

export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value
  if (depth > 6) return '[deep]'
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(value.cause ? { cause: redact(value.cause, depth + 1) } : {}),
    }
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1))
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_FIELD.test(k) ? REDACTED : redact(v, depth + 1)
  return out
}

export function createLogger(
  level: LogLevel = 'info',
  sink: LogSink = (l) => process.stdout.write(`${l}\n`),
  base: LogFields = {},
): Logger {
  const threshold = ORDER[level]
  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[lvl] < threshold) return
    const record = {
      ts: new Date().toISOString(),
      level: lvl,
      msg,
      ...(redact({ ...base, ...fields }) as LogFields),
    }
    sink(JSON.stringify(record))
  }
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    child: (fields) => createLogger(level, sink, { ...base, ...fields }),
  }
}
