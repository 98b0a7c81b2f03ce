// Agent logging: one line per event to stderr and agent.log (errors also to agent-error.log)
// in the agent's directory, rotated by size, and the newest lines in memory for log.tail.
// Fields that look secret and every registered secret value are masked before a line goes
// anywhere, so a token can never reach a log line, a file or the tail.
import { appendFileSync, existsSync, renameSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { LOG_TAIL_MAX_LINES } from '../protocol/commands.ts'
import type { AgentLogLevel } from './config.ts'

export const LOG_FILE = 'agent.log'
export const ERROR_LOG_FILE = 'agent-error.log'
/** Rotated copies kept: agent.log.1 .. agent.log.N. */
const ROTATED_COPIES = 3
const SECRET_FIELD = /token|secret|password|api[-_]?key|authorization|credential/i
const REDACTED = '[redacted]'
/** Shorter strings are not masked by value: they would mangle ordinary words. */
const MIN_SECRET_LENGTH = 8
/** A kept line longer than this is cut (the log.result frame's limit). */
const TAIL_LINE_MAX_CHARS = 16_000
const ORDER: Record<AgentLogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type LogFields = Record<string, unknown>

export interface AgentLogger {
  debug(msg: string, fields?: LogFields): void
  info(msg: string, fields?: LogFields): void
  warn(msg: string, fields?: LogFields): void
  error(msg: string, fields?: LogFields): void
  /** Masks this value wherever it would appear in a later line. */
  addSecret(value: string): void
  /** The newest lines (at most `n`, oldest first), as written: masked, without the newline. */
  tail(n?: number): string[]
}

export interface LoggerOptions {
  level: AgentLogLevel
  /** Directory for agent.log / agent-error.log; none = stderr only. */
  dir?: string
  maxBytes?: number
  stderr?: (line: string) => void
}

function formatValue(key: string, value: unknown): string {
  if (SECRET_FIELD.test(key)) return REDACTED
  if (value instanceof Error) return JSON.stringify(value.message)
  if (typeof value === 'string') return /[\s"=]/.test(value) ? JSON.stringify(value) : value
  return JSON.stringify(value) ?? 'undefined'
}

function rotateIfLarge(path: string, maxBytes: number): void {
  if (!existsSync(path) || statSync(path).size < maxBytes) return
  for (let i = ROTATED_COPIES - 1; i >= 1; i--) {
    if (existsSync(`${path}.${i}`)) renameSync(`${path}.${i}`, `${path}.${i + 1}`)
  }
  renameSync(path, `${path}.1`)
}

export function createAgentLogger(options: LoggerOptions): AgentLogger {
  const secrets = new Set<string>()
  /** A bounded ring of the newest lines, for log.tail. */
  const recent: string[] = []
  const maxBytes = options.maxBytes ?? 10 * 1024 * 1024
  const stderr = options.stderr ?? ((line: string) => process.stderr.write(line))
  const mask = (line: string) => {
    let out = line
    for (const s of secrets) out = out.replaceAll(s, REDACTED)
    return out
  }
  const toFile = (name: string, line: string) => {
    if (!options.dir) return
    const path = join(options.dir, name)
    try {
      rotateIfLarge(path, maxBytes)
      appendFileSync(path, line, { mode: 0o600 })
    } catch {
      // A full or read-only disk must not take the agent down; stderr still has the line.
    }
  }
  const write = (level: AgentLogLevel, msg: string, fields?: LogFields) => {
    if (ORDER[level] < ORDER[options.level]) return
    const parts = Object.entries(fields ?? {}).map(([k, v]) => `${k}=${formatValue(k, v)}`)
    const text = [new Date().toISOString(), level.toUpperCase(), msg, ...parts].join(' ')
    const masked = mask(text)
    recent.push(masked.length > TAIL_LINE_MAX_CHARS ? `${masked.slice(0, TAIL_LINE_MAX_CHARS)}…` : masked)
    if (recent.length > LOG_TAIL_MAX_LINES) recent.shift()
    const line = `${masked}\n`
    stderr(line)
    toFile(LOG_FILE, line)
    if (level === 'error') toFile(ERROR_LOG_FILE, line)
  }
  return {
    debug: (m, f) => write('debug', m, f),
    info: (m, f) => write('info', m, f),
    warn: (m, f) => write('warn', m, f),
    error: (m, f) => write('error', m, f),
    addSecret: (value) => {
      if (value.length < MIN_SECRET_LENGTH) return
      secrets.add(value)
      // A line kept before the secret was known must not carry it either.
      for (let i = 0; i < recent.length; i++) recent[i] = recent[i]!.replaceAll(value, REDACTED)
    },
    tail: (n = LOG_TAIL_MAX_LINES) => recent.slice(-n),
  }
}
